{{ config(indexes=[{'columns': ['company_id'], 'unique': True}]) }}
{#- One row per live HubSpot company: firmographics, the sustainability profile, region, and its
    contacts and deals so far. -#}
with

companies as (

    select * from {{ ref('stg_hubspot__companies') }}
    where not is_archived

),

regions as (

    select * from {{ ref('country_regions') }}

),

contacts as (

    select
        company_id,
        count(*) as contact_count,
        count(*) filter (where became_opportunity_at is not null) as converted_contact_count
    from {{ ref('int_contacts_enriched') }}
    where company_id is not null
    group by company_id

),

deal_companies as (

    select from_id as deal_id, to_id as company_id
    from {{ ref('stg_hubspot__associations') }}
    where from_type = 'deals' and to_type = 'companies' and not is_removed
    group by from_id, to_id

),

deals as (

    select
        deal_companies.company_id,
        count(*) as deal_count,
        count(*) filter (where not deals.is_closed) as open_deal_count,
        coalesce(sum(deals.amount) filter (where not deals.is_closed), 0) as open_pipeline_amount,
        coalesce(sum(deals.amount) filter (where deals.is_won), 0) as won_revenue
    from {{ ref('stg_hubspot__deals') }} as deals
    inner join deal_companies on deal_companies.deal_id = deals.deal_id
    where not deals.is_archived
    group by deal_companies.company_id

),

owners as (

    select owner_id, full_name from {{ ref('stg_hubspot__owners') }}

),

final as (

    select
        companies.company_id,
        companies.company_name,
        companies.domain,
        companies.industry,
        companies.cleantech_segment,
        companies.employees,
        companies.annual_revenue,
        companies.revenue_band,
        companies.country,
        coalesce(
            by_name.region, by_code.region,
            case when companies.country is null then 'unknown' else 'other' end
        ) as country_region,
        companies.timezone,
        companies.funding_stage,
        companies.founded_year,
        companies.emissions_intensity,
        companies.renewable_share,
        companies.sbti_status,
        companies.esg_disclosure_score,
        companies.certifications,
        companies.certification_count,
        companies.has_b_corp,
        companies.has_iso_14001,
        companies.lifecycle_stage,
        companies.owner_id,
        owners.full_name as owner_name,
        coalesce(contacts.contact_count, 0) as contact_count,
        coalesce(contacts.converted_contact_count, 0) as converted_contact_count,
        coalesce(deals.deal_count, 0) as deal_count,
        coalesce(deals.open_deal_count, 0) as open_deal_count,
        coalesce(deals.open_pipeline_amount, 0)::double precision as open_pipeline_amount,
        coalesce(deals.won_revenue, 0)::double precision as won_revenue,
        companies.created_at,
        companies.updated_at
    from companies
    left join regions as by_name on lower(by_name.country_name) = lower(companies.country)
    left join regions as by_code on by_code.iso_code = upper(companies.country)
    left join contacts on contacts.company_id = companies.company_id
    left join deals on deals.company_id = companies.company_id
    left join owners on owners.owner_id = companies.owner_id

)

select * from final
