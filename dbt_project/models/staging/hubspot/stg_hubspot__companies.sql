{{
    config(
        materialized='incremental',
        unique_key='company_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['company_id'], 'unique': True},
            {'columns': ['_synced_at']},
        ],
        post_hook=["{{ analyze_if_changed() }}"],
    )
}}
{#- A table, not a view: several marts read it and parsing HubSpot's property strings is the
    expensive part (a view re-parses every raw row for every reader). Incremental: raw rows synced
    since the newest `_synced_at` held are re-parsed and replace their rows. -#}
with

source as (

    select * from {{ source('hubspot', 'companies') }}
    {% if is_incremental() %}
    where _synced_at > {{ incremental_watermark('_synced_at') }}
    {% endif %}

),

renamed as (

    select
        id as company_id,
        {{ hs_text('name') }} as company_name,
        lower({{ hs_text('domain') }}) as domain,
        {{ hs_text('industry') }} as industry,
        lower({{ hs_text('cleantech_segment') }}) as cleantech_segment,
        {{ hs_number('numberofemployees') }} as employees,
        {{ hs_number('annualrevenue') }} as annual_revenue,
        {{ hs_text('revenue_band') }} as revenue_band,
        {{ hs_text('country') }} as country,
        {{ hs_text('timezone') }} as timezone,
        lower({{ hs_text('funding_stage') }}) as funding_stage,
        {{ hs_integer('founded_year') }} as founded_year,
        {{ hs_number('emissions_intensity') }} as emissions_intensity,
        {{ hs_number('renewable_share') }} as renewable_share,
        lower({{ hs_text('sbti_status') }}) as sbti_status,
        {{ hs_number('esg_disclosure_score') }} as esg_disclosure_score,
        lower({{ hs_text('certifications') }}) as certifications,
        {{ hs_text('hubspot_owner_id') }} as owner_id,
        lower({{ hs_text('lifecyclestage') }}) as lifecycle_stage,
        coalesce(created_at, {{ hs_timestamp('createdate') }}) as created_at,
        coalesce(updated_at, {{ hs_timestamp('hs_lastmodifieddate') }}) as updated_at,
        archived as is_archived,
        _synced_at

    from source

),

final as (

    select
        *,
        coalesce(
            cardinality(array_remove(string_to_array(replace(certifications, ' ', ''), ';'), '')),
            0
        ) as certification_count,
        coalesce(';' || replace(certifications, ' ', '') || ';' like '%;b_corp;%', false) as has_b_corp,
        coalesce(';' || replace(certifications, ' ', '') || ';' like '%;iso_14001;%', false) as has_iso_14001

    from renamed

)

select * from final
