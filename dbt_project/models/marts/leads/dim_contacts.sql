{{ config(indexes=[{'columns': ['contact_id'], 'unique': True}, {'columns': ['company_id']}, {'columns': ['email']}]) }}
{#- One row per live HubSpot contact: who they are, their company and region, lifecycle dates,
    consent and whether growthlab may email them now, and their engagement so far. -#}
with

contacts as (

    select * from {{ ref('int_contacts_enriched') }}

),

activity as (

    select * from {{ ref('int_contact_activity') }}

),

linkedin as (

    select
        contact_id,
        min(occurred_at) filter (where touch_type in ('connection_accepted', 'connected')) as linkedin_connected_at,
        (array_agg(rep order by occurred_at) filter (where touch_type in ('connection_accepted', 'connected')))[1]
            as linkedin_rep,
        min(occurred_at) filter (where direction = 'outbound') as first_linkedin_touch_at,
        max(occurred_at) as last_linkedin_touch_at
    from {{ ref('fct_linkedin_touches') }}
    where contact_id is not null
    group by contact_id

),

final as (

    select
        contacts.contact_id,
        contacts.email,
        contacts.first_name,
        contacts.last_name,
        contacts.full_name,
        contacts.job_title,
        contacts.seniority,
        contacts.job_function,
        contacts.company_id,
        contacts.company_name,
        contacts.country,
        contacts.country_region,
        contacts.requires_consent,
        contacts.timezone,
        contacts.linkedin_url,
        contacts.lifecycle_stage,
        contacts.lead_status,
        contacts.lead_source,
        contacts.owner_id,
        contacts.marketing_consent,
        contacts.is_email_opted_out,
        contacts.became_lead_at,
        contacts.became_mql_at,
        contacts.became_sql_at,
        contacts.became_opportunity_at,
        contacts.became_customer_at,
        contacts.became_opportunity_at is not null as is_converted,
        contacts.became_opportunity_at as converted_at,
        coalesce(activity.emails_sent, 0) as emails_sent,
        coalesce(activity.emails_delivered, 0) as emails_delivered,
        coalesce(activity.emails_human_opened, 0) as emails_human_opened,
        coalesce(activity.emails_clicked, 0) as emails_clicked,
        coalesce(activity.emails_replied, 0) as emails_replied,
        activity.first_email_sent_at,
        activity.last_email_sent_at,
        activity.unsubscribed_at,
        activity.bounced_at,
        linkedin.linkedin_connected_at,
        linkedin.linkedin_rep,
        linkedin.first_linkedin_touch_at,
        linkedin.last_linkedin_touch_at,
        activity.last_engaged_on,
        -- The consent rule (docs/architecture.md): EU, EEA, UK, CH need consent granted; elsewhere
        -- anything but denied. Never after an opt-out, unsubscribe, bounce or spam report.
        (
            contacts.email is not null
            and not contacts.is_email_opted_out
            and activity.unsubscribed_at is null
            and activity.bounced_at is null
            and not coalesce(activity.has_spam_report, false)
            and case
                when contacts.requires_consent then contacts.marketing_consent = 'granted'
                else contacts.marketing_consent <> 'denied'
            end
        ) as can_email,
        contacts.growthlab_score,
        contacts.growthlab_grade,
        contacts.growthlab_model_version,
        contacts.created_at,
        contacts.updated_at
    from contacts
    left join activity on activity.contact_id = contacts.contact_id
    left join linkedin on linkedin.contact_id = contacts.contact_id

)

select * from final
