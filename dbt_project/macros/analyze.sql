{#- Post-hook: ANALYZE {{ this }} when this build's transaction changed more than `share` of its
    rows, or the table has no statistics yet (a table materialization builds a new one each time).
    A full build analyzes every table, so the next model of the same build is planned on real
    statistics; an incremental build that adds 1% to a fact leaves it to autovacuum (its
    analyze threshold is also 10%) instead of sampling a 20M-row table for nothing. The counts
    are the transaction's own (pg_stat_xact_user_tables): dbt runs post-hooks before its commit. -#}
{% macro analyze_if_changed(share=0.1) -%}
do $analyze$
begin
    if (
        select c.reltuples < 0
            or coalesce(s.n_tup_ins + s.n_tup_upd + s.n_tup_del, 0) > {{ share }} * c.reltuples
        from pg_class as c
        left join pg_stat_xact_user_tables as s on s.relid = c.oid
        where c.oid = '{{ this.include(database=false) }}'::regclass
    ) then
        analyze {{ this.include(database=false) }};
    end if;
end
$analyze$
{%- endmacro %}
