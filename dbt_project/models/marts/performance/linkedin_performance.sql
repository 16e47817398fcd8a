{{ config(contract={'enforced': true}) }}
{#- LinkedIn outreach by rep and week. The cohort of a row is the members the rep reached out to
    (connection request or message) that week; what they did afterwards counts for that week:
    accepted the request (any time later), connected, replied, booked a meeting (within
    `attribution_window_days` after the first touch of the week). -#}
{%- set window_days = var('attribution_window_days') | int -%}
with

touches as (

    select * from {{ ref('fct_linkedin_touches') }}
    where profile_url is not null

),

meetings as (

    select contact_id, booked_at from {{ ref('fct_meetings') }}
    where contact_id is not null and booked_at is not null

),

costs as (

    select * from {{ ref('marketing_costs') }} where channel = 'linkedin' and cost_unit = 'touch'

),

outreach as (

    select
        rep,
        (date_trunc('week', occurred_at at time zone 'UTC'))::date as week_start,
        profile_url,
        max(contact_id) as contact_id,
        min(occurred_at) as first_touch_at,
        min(occurred_at) filter (where touch_type = 'connection_request_sent') as requested_at,
        count(*) filter (where touch_type = 'connection_request_sent') as requests_sent,
        count(*) filter (where touch_type = 'message_sent') as messages_sent,
        bool_or(touch_type = 'message_sent') as was_messaged,
        min(occurred_at) filter (where touch_type = 'message_sent') as first_message_at,
        sum(coalesce(costs.unit_cost_usd, 0)) as cost_usd
    from touches
    left join costs
        on touches.touch_date >= costs.valid_from
        and (costs.valid_to is null or touches.touch_date <= costs.valid_to)
    where touch_type in ('connection_request_sent', 'message_sent')
    group by 1, 2, 3

),

connections as (

    select
        rep,
        profile_url,
        min(touch_date) as connected_on,
        min(touch_date) filter (where touch_type = 'connection_accepted') as accepted_on
    from touches
    where touch_type in ('connection_accepted', 'connected')
    group by 1, 2

),

replies as (

    select
        outreach.rep,
        outreach.week_start,
        outreach.profile_url,
        (array_agg(touches.response_minutes order by touches.occurred_at))[1] as first_reply_minutes
    from outreach
    inner join touches
        on touches.rep = outreach.rep
        and touches.profile_url = outreach.profile_url
        and touches.is_reply
        and touches.occurred_at > outreach.first_message_at
        and touches.occurred_at <= outreach.first_message_at + interval '{{ window_days }} days'
    group by 1, 2, 3

),

meetings_booked as (

    select outreach.rep, outreach.week_start, outreach.profile_url
    from outreach
    inner join meetings
        on meetings.contact_id = outreach.contact_id
        and meetings.booked_at >= outreach.first_touch_at
        and meetings.booked_at <= outreach.first_touch_at + interval '{{ window_days }} days'
    group by 1, 2, 3

),

outcomes as (

    select
        outreach.*,
        coalesce(connections.accepted_on >= (outreach.requested_at at time zone 'UTC')::date, false) as was_accepted,
        coalesce(
            connections.connected_on <= (outreach.first_touch_at at time zone 'UTC')::date + {{ window_days }},
            false
        ) as was_connected,
        replies.profile_url is not null as was_replied,
        replies.first_reply_minutes,
        meetings_booked.profile_url is not null as booked_meeting
    from outreach
    left join connections
        on connections.rep = outreach.rep and connections.profile_url = outreach.profile_url
    left join replies
        on replies.rep = outreach.rep and replies.week_start = outreach.week_start
        and replies.profile_url = outreach.profile_url
    left join meetings_booked
        on meetings_booked.rep = outreach.rep and meetings_booked.week_start = outreach.week_start
        and meetings_booked.profile_url = outreach.profile_url

),

aggregated as (

    select
        week_start,
        rep,
        count(*) as members_touched,
        sum(requests_sent) as requests_sent,
        count(*) filter (where requested_at is not null) as members_requested,
        count(*) filter (where was_accepted) as requests_accepted,
        count(*) filter (where was_connected) as members_connected,
        count(*) filter (where was_messaged) as members_messaged,
        sum(messages_sent) as messages_sent,
        count(*) filter (where was_replied) as members_replied,
        avg(first_reply_minutes) as avg_response_minutes,
        count(*) filter (where booked_meeting) as members_with_meeting,
        sum(cost_usd) as cost_usd
    from outcomes
    group by 1, 2

),

final as (

    select
        (week_start || '|' || rep)::text as performance_key,
        week_start::date as week_start,
        rep::text as rep,
        members_touched::integer as members_touched,
        requests_sent::integer as requests_sent,
        members_requested::integer as members_requested,
        requests_accepted::integer as requests_accepted,
        members_connected::integer as members_connected,
        members_messaged::integer as members_messaged,
        messages_sent::integer as messages_sent,
        members_replied::integer as members_replied,
        members_with_meeting::integer as members_with_meeting,
        {{ safe_divide('requests_accepted', 'members_requested') }} as acceptance_rate,
        {{ safe_divide('members_connected', 'members_touched') }} as connection_rate,
        {{ safe_divide('members_replied', 'members_messaged') }} as engagement_rate,
        avg_response_minutes::double precision as avg_response_minutes,
        {{ safe_divide('members_with_meeting', 'members_touched') }} as meeting_conversion_rate,
        cost_usd::double precision as cost_usd
    from aggregated

)

select * from final
