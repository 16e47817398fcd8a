{#- The sales reps whose LinkedIn exports we load: the export owner (slug `first-last`), their
    name from Profile.csv and their own profile URL (the inviter of their OUTGOING invitations and
    the invitee of INCOMING ones, else linkedin.com/in/<export owner>). -#}
with

owners as (

    select rep from {{ ref('stg_linkedin__connections') }}
    union
    select rep from {{ ref('stg_linkedin__invitations') }}
    union
    select rep from {{ ref('stg_linkedin__messages') }}
    union
    select rep from {{ ref('stg_linkedin__profiles') }}

),

profiles as (

    select distinct on (rep) rep, full_name
    from {{ ref('stg_linkedin__profiles') }}
    order by rep, exported_at desc nulls last

),

own_urls as (

    select distinct on (rep) rep, own_url
    from (
        select
            rep,
            case when direction = 'OUTGOING' then inviter_profile_url else invitee_profile_url end as own_url
        from {{ ref('stg_linkedin__invitations') }}
    ) as urls
    where own_url is not null
    group by rep, own_url
    order by rep, count(*) desc, own_url

),

final as (

    select
        owners.rep,
        profiles.full_name as rep_name,
        coalesce(own_urls.own_url, 'https://www.linkedin.com/in/' || lower(owners.rep)) as rep_profile_url
    from owners
    left join profiles on profiles.rep = owners.rep
    left join own_urls on own_urls.rep = owners.rep

)

select * from final
