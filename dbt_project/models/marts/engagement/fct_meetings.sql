{{ config(indexes=[{'columns': ['contact_id', 'booked_at']}]) }}
{#- One row per meeting and attending contact (HubSpot meetings->contacts associations); a meeting
    without a contact keeps one row with a null contact_id. -#}
with

meetings as (

    select * from {{ ref('stg_hubspot__meetings') }}
    where not is_archived

),

attendees as (

    select from_id as meeting_id, to_id as contact_id
    from {{ ref('stg_hubspot__associations') }}
    where from_type = 'meetings' and to_type = 'contacts' and not is_removed
    group by from_id, to_id

),

-- The attendees' companies only (index lookups), not every contact's.
contacts as (

    select contact_id, company_id from {{ ref('int_contacts_enriched') }}
    where contact_id = any(array(select contact_id from attendees))

),

final as (

    select
        meetings.meeting_id || ':' || coalesce(attendees.contact_id, '-') as meeting_contact_id,
        meetings.meeting_id,
        attendees.contact_id,
        contacts.company_id,
        meetings.owner_id,
        meetings.meeting_title,
        meetings.booked_at,
        meetings.starts_at,
        meetings.ends_at,
        (extract(epoch from meetings.ends_at - meetings.starts_at) / 60.0)::double precision as duration_minutes,
        meetings.outcome,
        meetings.outcome = 'COMPLETED' as was_completed,
        meetings.outcome = 'NO_SHOW' as was_no_show,
        meetings.outcome = 'CANCELED' as was_canceled,
        meetings._synced_at as synced_at
    from meetings
    left join attendees on attendees.meeting_id = meetings.meeting_id
    left join contacts on contacts.contact_id = attendees.contact_id

)

select * from final
