{#- Live (not archived) HubSpot contacts with their company (the `associatedcompanyid` property,
    else the first live contacts->companies association) and region. -#}
with

contacts as (

    select * from {{ ref('stg_hubspot__contacts') }}
    where not is_archived

),

company_links as (

    select distinct on (from_id)
        from_id as contact_id,
        to_id as company_id
    from {{ ref('stg_hubspot__associations') }}
    where from_type = 'contacts' and to_type = 'companies' and not is_removed
    order by from_id, association_type_id, to_id

),

regions as (

    select * from {{ ref('country_regions') }}

),

final as (

    select
        contacts.*,
        coalesce(contacts.associated_company_id, company_links.company_id) as company_id,
        coalesce(
            by_name.region, by_code.region,
            case when contacts.country is null then 'unknown' else 'other' end
        ) as country_region,
        -- Unknown countries are treated as needing consent: the safe side.
        coalesce(by_name.requires_consent, by_code.requires_consent, true) as requires_consent

    from contacts
    left join company_links on company_links.contact_id = contacts.contact_id
    left join regions as by_name on lower(by_name.country_name) = lower(contacts.country)
    left join regions as by_code on by_code.iso_code = upper(contacts.country)

)

select * from final
