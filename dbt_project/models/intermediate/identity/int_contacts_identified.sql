{#- One HubSpot contact per email address and per LinkedIn profile: how facts from SendGrid,
    HubSpot email events and LinkedIn exports find their contact. HubSpot keeps emails unique per
    contact; should two live contacts still share one, the earliest created wins. A LinkedIn profile
    maps to a contact by ingestion's match (raw_linkedin.contact_matches: email 1.0, name+company 0.8),
    else by the contact's `linkedin_url`, else by the connection's email. -#}
with

contacts as (

    select contact_id, email, linkedin_url, created_at
    from {{ ref('stg_hubspot__contacts') }}
    where not is_archived

),

connections as (

    select connection_key, profile_url, email
    from {{ ref('stg_linkedin__connections') }}
    where profile_url is not null

),

matches as (

    select connection_key, contact_id, match_method, confidence
    from {{ ref('stg_linkedin__contact_matches') }}

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

profile_candidates as (

    select
        connections.profile_url,
        matches.contact_id,
        'linkedin_match_' || matches.match_method as method,
        matches.confidence,
        1 as priority
    from connections
    inner join matches on matches.connection_key = connections.connection_key
    inner join contacts on contacts.contact_id = matches.contact_id

    union all

    select linkedin_url, contact_id, 'hubspot_linkedin_url', 1.0, 2
    from contacts
    where linkedin_url is not null

    union all

    select connections.profile_url, by_email.contact_id, 'connection_email', 1.0, 3
    from connections
    inner join by_email on by_email.identifier = connections.email

),

by_profile as (

    select distinct on (profile_url)
        'linkedin_profile' as identifier_type,
        profile_url as identifier,
        contact_id,
        method,
        confidence
    from profile_candidates
    order by profile_url, priority, confidence desc, contact_id

),

final as (

    select * from by_email
    union all
    select * from by_profile

)

select * from final
