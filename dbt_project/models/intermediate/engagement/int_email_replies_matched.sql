{{
    config(
        materialized='table',
        indexes=[{'columns': ['send_id']}, {'columns': ['synced_at']}],
        post_hook=["{{ analyze_if_changed() }}"],
    )
}}
{#- Every reply (HubSpot one-to-one email with hs_email_direction = INCOMING_EMAIL) of a contact,
    matched to the send it answers: by the In-Reply-To header (= the SendGrid X-Message-Id of the
    contact's mail), else to the contact's latest send in the `reply_window_days` before the reply.
    A reply whose In-Reply-To names a rep's one-to-one email answers that email, not a campaign
    (match_method `sales_email`, no send). Replies that answer no known send keep a null send_id
    (they still count as engagement). `responded_at` is the team's first
    outgoing one-to-one email to the contact after the reply (lead response time). A table, built
    once per build: fct_email_sends and contact_engagement_daily both read it, and an ephemeral
    model would match every reply twice. -#}
with

emails as (

    select * from {{ ref('stg_hubspot__emails') }}
    where not is_archived and occurred_at is not null

),

email_contacts as (

    select distinct on (from_id)
        from_id as email_engagement_id,
        to_id as contact_id
    from {{ ref('stg_hubspot__associations') }}
    where from_type = 'emails' and to_type = 'contacts' and not is_removed
    order by from_id, to_id

),

conversation as (

    select
        emails.email_engagement_id,
        email_contacts.contact_id,
        emails.occurred_at,
        emails.is_incoming,
        emails.in_reply_to_key,
        emails.message_id_key,
        emails._synced_at,
        min(case when not emails.is_incoming then emails.occurred_at end) over (
            partition by email_contacts.contact_id
            order by emails.occurred_at, emails.email_engagement_id
            rows between 1 following and unbounded following
        ) as responded_at
    from emails
    inner join email_contacts on email_contacts.email_engagement_id = emails.email_engagement_id

),

replies as (

    select
        email_engagement_id as reply_id,
        contact_id,
        occurred_at as replied_at,
        in_reply_to_key,
        responded_at,
        _synced_at as synced_at
    from conversation
    where is_incoming

),

sales_emails as (

    select distinct message_id_key
    from conversation
    where not is_incoming and message_id_key is not null

),

by_header as (

    select distinct on (replies.reply_id)
        replies.*,
        events.send_id,
        'in_reply_to' as match_method
    from replies
    inner join {{ ref('fct_email_events') }} as events
        on events.message_id = replies.in_reply_to_key
        and events.contact_id = replies.contact_id
    order by replies.reply_id, events.occurred_at

),

to_sales_email as (

    select
        replies.*,
        null::text as send_id,
        'sales_email' as match_method
    from replies
    where replies.in_reply_to_key in (select message_id_key from sales_emails)
      and not exists (select 1 from by_header where by_header.reply_id = replies.reply_id)

),

by_window as (

    select
        replies.*,
        latest_send.send_id,
        'reply_window' as match_method
    from replies
    cross join lateral (
        select events.send_id
        from {{ ref('fct_email_events') }} as events
        where events.contact_id = replies.contact_id
          and events.event_type = 'sent'
          and events.occurred_at <= replies.replied_at
          and events.occurred_at > replies.replied_at - interval '{{ var("reply_window_days") | int }} days'
        order by events.occurred_at desc, events.send_id desc
        limit 1
    ) as latest_send
    where not exists (select 1 from by_header where by_header.reply_id = replies.reply_id)
      and not exists (select 1 from to_sales_email where to_sales_email.reply_id = replies.reply_id)

),

unmatched as (

    select
        replies.*,
        null::text as send_id,
        null::text as match_method
    from replies
    where not exists (select 1 from by_header where by_header.reply_id = replies.reply_id)
      and not exists (select 1 from to_sales_email where to_sales_email.reply_id = replies.reply_id)
      and not exists (select 1 from by_window where by_window.reply_id = replies.reply_id)

),

final as (

    select * from by_header
    union all
    select * from to_sales_email
    union all
    select * from by_window
    union all
    select * from unmatched

)

select * from final
