{{
    config(
        materialized='incremental',
        unique_key='send_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['send_id'], 'unique': True},
            {'columns': ['contact_id', 'sent_at']},
            {'columns': ['source', 'events_synced_at']},
            {'columns': ['replies_synced_at']},
            {'columns': ['sent_date']},
            {'columns': ['built_at']},
        ],
    )
}}
{#- The columns, in order (an incremental build writes renumbered sends from the held rows). -#}
{%- set send_columns = [
    'send_id', 'source', 'message_id', 'outbox_id', 'contact_id', 'email',
    'campaign_id', 'step', 'variant', 'angle', 'sent_at', 'sent_date',
    'contact_send_number', 'previous_sent_at', 'days_since_previous_send', 'delivered_at', 'first_open_at', 'first_human_open_at',
    'first_click_at', 'open_count', 'human_open_count', 'machine_open_count', 'click_count', 'reply_count',
    'was_delivered', 'was_opened', 'was_human_opened', 'was_machine_opened', 'was_clicked', 'was_bounced',
    'was_dropped', 'was_unsubscribed', 'was_spam_reported', 'was_replied', 'bounced_at', 'unsubscribed_at',
    'replied_at', 'reply_match_method', 'reply_minutes', 'responded_at', 'first_response_minutes', 'events_synced_at',
    'replies_synced_at', 'built_at',
] -%}
{#- One row per email sent, from growthlab's SendGrid mail and HubSpot marketing email: the
    per-send pattern (pivot events to one row per send, coalesce counts to 0, derive was_* flags).
    Incremental: the sends with events or replies synced since the last build, and every other send
    of their contacts (sequence numbers), are recomputed from all of their events, so a late open
    or click updates its send. -#}
with

replies as (

    select * from {{ ref('int_email_replies_matched') }}
    where send_id is not null

),

{% if is_incremental() %}
changed_sends as (

    select send_id
    from {{ ref('fct_email_events') }}
    where (source = 'sendgrid' and synced_at > {{ incremental_watermark('events_synced_at', "source = 'sendgrid'") }})
       or (source = 'hubspot' and synced_at > {{ incremental_watermark('events_synced_at', "source = 'hubspot'") }})

    union

    select send_id
    from replies
    where synced_at > {{ incremental_watermark('replies_synced_at') }}

),
{% endif %}

events as (

    select * from {{ ref('fct_email_events') }}
    {% if is_incremental() %}
    -- An array, not a semi-join: the planner cannot estimate how few sends changed (the watermark
    -- is a subquery) and would merge-join the whole fact; `= any(array)` probes the send_id index.
    where send_id = any(array(select send_id from changed_sends))
    {% endif %}

),

pivoted as (

    select
        send_id,
        min(source) as source,
        max(message_id) as message_id,
        max(outbox_id) as outbox_id,
        max(contact_id) as contact_id,
        max(email) as email,
        max(campaign_id) as campaign_id,
        max(step) as step,
        max(variant) as variant,
        max(angle) as angle,
        coalesce(min(occurred_at) filter (where event_type = 'sent'), min(occurred_at)) as sent_at,
        min(occurred_at) filter (where event_type = 'delivered') as delivered_at,
        min(occurred_at) filter (where event_type = 'open') as first_open_at,
        min(occurred_at) filter (where event_type = 'open' and not is_machine_open) as first_human_open_at,
        min(occurred_at) filter (where event_type = 'click') as first_click_at,
        min(occurred_at) filter (where event_type = 'unsubscribe') as unsubscribed_at,
        min(occurred_at) filter (where event_type = 'bounce') as bounced_at,
        count(*) filter (where event_type = 'open') as open_count,
        count(*) filter (where event_type = 'open' and not is_machine_open) as human_open_count,
        count(*) filter (where event_type = 'open' and is_machine_open) as machine_open_count,
        count(*) filter (where event_type = 'click') as click_count,
        count(*) filter (where event_type = 'deferred') as deferred_count,
        bool_or(event_type = 'dropped') as has_dropped,
        bool_or(event_type = 'spam_report') as has_spam_report,
        bool_or(event_type = 'sent') as has_sent_event,
        max(synced_at) as events_synced_at
    from events
    group by send_id

),

{% if is_incremental() %}
-- The sends as held before this build, for the changed ones (the send_id index).
held_changed as (

    select held.send_id, held.contact_id, held.sent_at, held.contact_send_number, held.previous_sent_at
    from {{ this }} as held
    where held.send_id = any(array(select send_id from pivoted))

),

-- Only a new send, or one whose time or contact moved, changes its contacts' sequences; a late
-- open or click does not, and its send keeps its number (most changed sends are such). A sequence
-- changes from the earliest such moment on (the new time, and the old one in the old contact):
-- sends before it keep their numbers, the ones from it on are renumbered.
resequence_from as (

    select contact_id, min(moment) as from_at
    from (
        select pivoted.contact_id, pivoted.sent_at as moment
        from pivoted
        left join held_changed on held_changed.send_id = pivoted.send_id
        where held_changed.send_id is null
           or (held_changed.sent_at, held_changed.contact_id) is distinct from (pivoted.sent_at, pivoted.contact_id)
           -- its sent event arrived late (a send without one has no number)
           or (held_changed.contact_send_number is null and pivoted.has_sent_event)

        union all

        select held_changed.contact_id, held_changed.sent_at
        from held_changed
        inner join pivoted on pivoted.send_id = held_changed.send_id
        where (held_changed.sent_at, held_changed.contact_id) is distinct from (pivoted.sent_at, pivoted.contact_id)
    ) as moments
    where contact_id is not null
    group by contact_id

),

-- Where each such sequence resumes: the contact's last numbered send before the moment, held
-- (the (contact_id, sent_at) index); sends before it keep their numbers.
sequence_start as (

    select
        resequence_from.contact_id,
        resequence_from.from_at,
        coalesce(before.contact_send_number, 0) as numbered_before,
        before.sent_at as sent_before
    from resequence_from
    left join lateral (
        select held.contact_send_number, held.sent_at
        from {{ this }} as held
        where held.contact_id = resequence_from.contact_id
          and held.sent_at < resequence_from.from_at
          and held.contact_send_number is not null
        order by held.sent_at desc, held.send_id desc
        limit 1
    ) as before on true

),

{% endif %}

sequence as (

    {% if is_incremental() -%}
    -- Only the sent events from the moment on are read (the (contact_id, occurred_at) index;
    -- `offset 0` keeps each a probe rather than a join over the whole fact).
    select
        later.send_id,
        sequence_start.numbered_before
            + row_number() over (partition by later.contact_id order by later.occurred_at, later.send_id)
            as contact_send_number,
        coalesce(
            lag(later.occurred_at) over (partition by later.contact_id order by later.occurred_at, later.send_id),
            sequence_start.sent_before
        ) as previous_sent_at
    from sequence_start
    cross join lateral (
        select events.send_id, events.contact_id, events.occurred_at
        from {{ ref('fct_email_events') }} as events
        where events.contact_id = sequence_start.contact_id
          and events.occurred_at >= sequence_start.from_at
          and events.event_type = 'sent'
        offset 0
    ) as later
    {%- else -%}
    select
        send_id,
        row_number() over (partition by contact_id order by occurred_at, send_id) as contact_send_number,
        lag(occurred_at) over (partition by contact_id order by occurred_at, send_id) as previous_sent_at
    from {{ ref('fct_email_events') }}
    where event_type = 'sent'
      and contact_id is not null
    {%- endif %}

),

send_replies as (

    select
        send_id,
        count(*) as reply_count,
        min(replied_at) as replied_at,
        (array_agg(responded_at order by replied_at, reply_id))[1] as responded_at,
        (array_agg(match_method order by replied_at, reply_id))[1] as reply_match_method,
        max(synced_at) as replies_synced_at
    from replies
    {% if is_incremental() %}
    where send_id in (select send_id from pivoted)
    {% endif %}
    group by send_id

),

final as (

    select
        pivoted.send_id,
        pivoted.source,
        pivoted.message_id,
        pivoted.outbox_id,
        pivoted.contact_id,
        pivoted.email,
        pivoted.campaign_id,
        pivoted.step,
        pivoted.variant,
        pivoted.angle,
        pivoted.sent_at,
        (pivoted.sent_at at time zone 'UTC')::date as sent_date,
        {% if is_incremental() -%}
        case when sequence.send_id is not null then sequence.contact_send_number
             else held_changed.contact_send_number end as contact_send_number,
        case when sequence.send_id is not null then sequence.previous_sent_at
             else held_changed.previous_sent_at end as previous_sent_at,
        {{ days_between('pivoted.sent_at', 'case when sequence.send_id is not null then sequence.previous_sent_at else held_changed.previous_sent_at end') }}
            as days_since_previous_send,
        {%- else -%}
        sequence.contact_send_number,
        sequence.previous_sent_at,
        {{ days_between('pivoted.sent_at', 'sequence.previous_sent_at') }} as days_since_previous_send,
        {%- endif %}
        pivoted.delivered_at,
        pivoted.first_open_at,
        pivoted.first_human_open_at,
        pivoted.first_click_at,
        pivoted.open_count,
        pivoted.human_open_count,
        pivoted.machine_open_count,
        pivoted.click_count,
        coalesce(send_replies.reply_count, 0) as reply_count,
        -- A recorded open or click proves delivery even when the delivered event is missing.
        (pivoted.delivered_at is not null or pivoted.open_count > 0 or pivoted.click_count > 0) as was_delivered,
        -- A click implies the mail was opened (by a person).
        (pivoted.open_count > 0 or pivoted.click_count > 0) as was_opened,
        (pivoted.human_open_count > 0 or pivoted.click_count > 0) as was_human_opened,
        (pivoted.machine_open_count > 0) as was_machine_opened,
        (pivoted.click_count > 0) as was_clicked,
        (pivoted.bounced_at is not null) as was_bounced,
        pivoted.has_dropped as was_dropped,
        (pivoted.unsubscribed_at is not null) as was_unsubscribed,
        pivoted.has_spam_report as was_spam_reported,
        (send_replies.replied_at is not null) as was_replied,
        pivoted.bounced_at,
        pivoted.unsubscribed_at,
        send_replies.replied_at,
        send_replies.reply_match_method,
        (extract(epoch from send_replies.replied_at - pivoted.sent_at) / 60.0)::double precision as reply_minutes,
        send_replies.responded_at,
        (extract(epoch from send_replies.responded_at - send_replies.replied_at) / 60.0)::double precision
            as first_response_minutes,
        pivoted.events_synced_at,
        send_replies.replies_synced_at,
        -- When a build last saw new events or replies of the send (what email_campaign_performance
        -- refreshes from); a send renumbered only (below) keeps its time.
        now() as built_at

    from pivoted
    left join sequence on sequence.send_id = pivoted.send_id
    {% if is_incremental() -%}
    left join held_changed on held_changed.send_id = pivoted.send_id
    {%- endif %}
    left join send_replies on send_replies.send_id = pivoted.send_id

)

{% if is_incremental() %}
,

-- The other sends of the changed sends' contacts keep their facts; only their place in the
-- contact's sequence can move (a late send renumbers the later ones). Those whose number or
-- previous send changed are rewritten from the held row, the rest are left alone.
{%- set sequence_columns = {
    'contact_send_number': 'sequence.contact_send_number',
    'previous_sent_at': 'sequence.previous_sent_at',
    'days_since_previous_send': days_between('held.sent_at', 'sequence.previous_sent_at'),
} %}
renumbered as (

    select
        {% for column in send_columns -%}
        {{ sequence_columns.get(column, 'held.' ~ column) }} as {{ column }}{{ "," if not loop.last }}
        {% endfor %}
    from {{ this }} as held
    inner join sequence on sequence.send_id = held.send_id
    where held.send_id = any(array(select send_id from sequence))
      and held.send_id not in (select send_id from pivoted)
      and (held.contact_send_number, held.previous_sent_at)
          is distinct from (sequence.contact_send_number, sequence.previous_sent_at)

)

select {{ send_columns | join(', ') }} from final
union all
select {{ send_columns | join(', ') }} from renumbered
{% else %}
select * from final
{% endif %}
