with

source as (

    select * from {{ source('ops', 'ingest_batches') }}

),

renamed as (

    select
        batch_id,
        source as source_system,
        object as source_object,
        run_id,
        data_interval_start,
        data_interval_end,
        rows_in,
        rows_loaded,
        rows_quarantined,
        rows_inserted,
        rows_updated,
        started_at,
        finished_at,
        status,
        error

    from source

),

final as (

    select * from renamed

)

select * from final
