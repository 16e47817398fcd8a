{#- Live (not archived) HubSpot contacts with their company (the `associatedcompanyid` property,
    else the first live contacts->companies association) and region. -#}
with

contacts as (

    select * from {{ ref('stg_hubspot__contacts') }}
    where not is_archived

),

regions as (

    select * from {{ ref('country_regions') }}

),

final as (

    select
        contacts.*,
        coalesce(
            contacts.associated_company_id,
            -- Looked up (by the raw key's index) only for contacts without the property.
            (
                select links.to_id
                from {{ ref('stg_hubspot__associations') }} as links
                where links.from_type = 'contacts' and links.from_id = contacts.contact_id
                  and links.to_type = 'companies' and not links.is_removed
                order by links.association_type_id, links.to_id
                limit 1
            )
        ) as company_id,
        coalesce(
            by_name.region, by_code.region,
            case when contacts.country is null then 'unknown' else 'other' end
        ) as country_region,
        -- Unknown countries are treated as needing consent: the safe side.
        coalesce(by_name.requires_consent, by_code.requires_consent, true) as requires_consent

    from contacts
    left join regions as by_name on lower(by_name.country_name) = lower(contacts.country)
    left join regions as by_code on by_code.iso_code = upper(contacts.country)

)

select * from final
