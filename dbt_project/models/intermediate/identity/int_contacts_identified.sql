{#- One HubSpot contact per email address: how facts from SendGrid and HubSpot email events find
    their contact (SendGrid events carry gl_contact_id and use it first). HubSpot keeps emails
    unique per contact; should two live contacts still share one, the earliest created wins.
    LinkedIn profiles find their contact in fct_linkedin_touches, for the profiles it touches only
    (ingestion's match, else the contact's `linkedin_url`, else the connection's email by this rule):
    resolving every contact's profile would cost a pass over all contacts in every build. -#}
with

contacts as (

    select contact_id, email, created_at
    from {{ ref('stg_hubspot__contacts') }}
    where not is_archived

),

by_email as (

    select distinct on (email)
        'email' as identifier_type,
        email as identifier,
        contact_id,
        'hubspot_email' as method,
        1.0::double precision as confidence
    from contacts
    where email is not null
    order by email, created_at, contact_id

),

final as (

    select * from by_email

)

select * from final
