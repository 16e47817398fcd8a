{{
    config(
        indexes=[{'columns': ['contact_id', 'occurred_at']}, {'columns': ['rep', 'occurred_at']}],
    )
}}
{#- One row per LinkedIn touch between a rep and a member, from the reps' exports: connection
    requests (both directions), connections (`connection_accepted` when the rep's request came
    first), messages (both directions). A received message right after the rep's message in the same
    conversation is a reply, with its response time. -#}
with

reps as (

    select * from {{ ref('int_linkedin_reps') }}

),

invitations as (

    select * from {{ ref('stg_linkedin__invitations') }}
    where sent_at is not null

),

connections as (

    select * from {{ ref('stg_linkedin__connections') }}
    where connected_on is not null and profile_url is not null

),

messages as (

    select
        messages.*,
        reps.rep_profile_url,
        (
            messages.sender_profile_url = reps.rep_profile_url
            or (messages.sender_profile_url is null and messages.from_name = reps.rep_name)
        ) as is_from_rep
    from {{ ref('stg_linkedin__messages') }} as messages
    inner join reps on reps.rep = messages.rep
    where not messages.is_draft and messages.sent_at is not null

),

request_touches as (

    select
        'inv:' || invitation_key as touch_id,
        rep,
        case when direction = 'OUTGOING' then 'connection_request_sent' else 'connection_request_received' end
            as touch_type,
        case when direction = 'OUTGOING' then 'outbound' else 'inbound' end as direction,
        sent_at as occurred_at,
        profile_url,
        member_name,
        null::text as conversation_id,
        false as is_reply,
        null::double precision as response_minutes,
        _synced_at as synced_at
    from invitations

),

first_requests as (

    select rep, profile_url, min((sent_at at time zone 'UTC')::date) as first_requested_on
    from invitations
    where direction = 'OUTGOING' and profile_url is not null
    group by rep, profile_url

),

connection_touches as (

    select
        'con:' || connections.connection_key as touch_id,
        connections.rep,
        case
            when first_requests.first_requested_on <= connections.connected_on then 'connection_accepted'
            else 'connected'
        end as touch_type,
        'inbound' as direction,
        (connections.connected_on::timestamp at time zone 'UTC') as occurred_at,
        connections.profile_url,
        connections.full_name as member_name,
        null::text as conversation_id,
        false as is_reply,
        null::double precision as response_minutes,
        connections._synced_at as synced_at
    from connections
    left join first_requests
        on first_requests.rep = connections.rep and first_requests.profile_url = connections.profile_url

),

message_sequence as (

    select
        messages.*,
        lag(is_from_rep) over conversation as previous_is_from_rep,
        lag(sent_at) over conversation as previous_sent_at
    from messages
    window conversation as (partition by rep, conversation_id order by sent_at, message_key)

),

message_touches as (

    select
        'msg:' || message_key as touch_id,
        rep,
        case when is_from_rep then 'message_sent' else 'message_received' end as touch_type,
        case when is_from_rep then 'outbound' else 'inbound' end as direction,
        sent_at as occurred_at,
        case when is_from_rep then first_recipient_profile_url else sender_profile_url end as profile_url,
        case when is_from_rep then split_part(to_names, ',', 1) else from_name end as member_name,
        conversation_id,
        (not is_from_rep and coalesce(previous_is_from_rep, false)) as is_reply,
        case when not is_from_rep and previous_is_from_rep
             then (extract(epoch from sent_at - previous_sent_at) / 60.0)::double precision
        end as response_minutes,
        _synced_at as synced_at
    from message_sequence

),

touches as (

    select * from request_touches
    union all
    select * from connection_touches
    union all
    select * from message_touches

),

-- The contact of each touched profile (identity: one contact per LinkedIn profile): ingestion's
-- match (raw_linkedin.contact_matches: email 1.0, name+company 0.8), else the live contact whose
-- HubSpot linkedin_url it is, else the contact of the connection's email (int_contacts_identified's
-- rule: the earliest created). Resolved for the touched profiles only, through the staging tables'
-- indexes (profile_url, linkedin_url, email), never for every contact.
touched_profiles as (

    select distinct profile_url from touches where profile_url is not null

),

profile_candidates as (

    select connections.profile_url, matches.contact_id, 1 as priority, matches.confidence
    from {{ ref('stg_linkedin__connections') }} as connections
    inner join {{ ref('stg_linkedin__contact_matches') }} as matches
        on matches.connection_key = connections.connection_key
    inner join {{ ref('stg_hubspot__contacts') }} as contacts
        on contacts.contact_id = matches.contact_id and not contacts.is_archived
    where connections.profile_url in (select profile_url from touched_profiles)

    union all

    select contacts.linkedin_url, contacts.contact_id, 2, 1.0
    from {{ ref('stg_hubspot__contacts') }} as contacts
    where not contacts.is_archived
      and contacts.linkedin_url in (select profile_url from touched_profiles)

    union all

    select connections.profile_url, by_email.contact_id, 3, 1.0
    from {{ ref('stg_linkedin__connections') }} as connections
    cross join lateral (
        select contacts.contact_id
        from {{ ref('stg_hubspot__contacts') }} as contacts
        where contacts.email = connections.email and not contacts.is_archived
        order by contacts.created_at, contacts.contact_id
        limit 1
    ) as by_email
    where connections.profile_url in (select profile_url from touched_profiles)

),

contacts_by_profile as (

    select distinct on (profile_url) profile_url, contact_id
    from profile_candidates
    order by profile_url, priority, confidence desc, contact_id

),

final as (

    select
        touches.touch_id,
        touches.rep,
        touches.touch_type,
        touches.direction,
        touches.occurred_at,
        (touches.occurred_at at time zone 'UTC')::date as touch_date,
        touches.profile_url,
        touches.member_name,
        contacts_by_profile.contact_id,
        touches.conversation_id,
        touches.is_reply,
        touches.response_minutes,
        touches.synced_at
    from touches
    left join contacts_by_profile on contacts_by_profile.profile_url = touches.profile_url

)

select * from final
