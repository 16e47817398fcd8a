{{
    config(
        materialized='incremental',
        unique_key='contact_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['contact_id'], 'unique': True},
            {'columns': ['email']},
            {'columns': ['linkedin_url']},
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

    select * from {{ source('hubspot', 'contacts') }}
    {% if is_incremental() %}
    where _synced_at > {{ incremental_watermark('_synced_at') }}
    {% endif %}

),

renamed as (

    select
        id as contact_id,
        {{ normalize_email(hs_text('email')) }} as email,
        {{ normalize_name(hs_text('firstname')) }} as first_name,
        {{ normalize_name(hs_text('lastname')) }} as last_name,
        {{ hs_text('jobtitle') }} as job_title,
        lower({{ hs_text('seniority') }}) as seniority,
        lower({{ hs_text('job_function') }}) as job_function,
        {{ hs_text('company') }} as company_name,
        {{ hs_text('associatedcompanyid') }} as associated_company_id,
        {{ hs_text('country') }} as country,
        {{ hs_text('timezone') }} as timezone,
        {{ normalize_linkedin_url(hs_text('linkedin_url')) }} as linkedin_url,
        lower({{ hs_text('lifecyclestage') }}) as lifecycle_stage,
        {{ hs_text('hs_lead_status') }} as lead_status,
        {{ hs_timestamp('hs_lifecyclestage_lead_date') }} as became_lead_at,
        {{ hs_timestamp('hs_lifecyclestage_marketingqualifiedlead_date') }} as became_mql_at,
        {{ hs_timestamp('hs_lifecyclestage_salesqualifiedlead_date') }} as became_sql_at,
        {{ hs_timestamp('hs_lifecyclestage_opportunity_date') }} as became_opportunity_at,
        {{ hs_timestamp('hs_lifecyclestage_customer_date') }} as became_customer_at,
        upper({{ hs_text('hs_analytics_source') }}) as lead_source,
        coalesce(lower({{ hs_text('marketing_consent') }}), 'unknown') as marketing_consent,
        coalesce({{ hs_bool('hs_email_optout') }}, false) as is_email_opted_out,
        {{ hs_text('hubspot_owner_id') }} as owner_id,
        {{ hs_number('growthlab_score') }} as growthlab_score,
        {{ hs_text('growthlab_grade') }} as growthlab_grade,
        {{ hs_text('growthlab_model_version') }} as growthlab_model_version,
        coalesce(created_at, {{ hs_timestamp('createdate') }}) as created_at,
        coalesce(updated_at, {{ hs_timestamp('lastmodifieddate') }}) as updated_at,
        archived as is_archived,
        _synced_at

    from source

),

final as (

    select
        *,
        nullif(concat_ws(' ', first_name, last_name), '') as full_name

    from renamed

)

select * from final
