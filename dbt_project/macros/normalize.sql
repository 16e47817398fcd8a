{#- How people are matched across HubSpot, SendGrid and LinkedIn: one spelling per email, name and
    profile URL. -#}

{#- lower-case, trimmed; null unless it looks like local@domain. -#}
{% macro normalize_email(expr) -%}
    case when btrim({{ expr }}) ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' then lower(btrim({{ expr }})) end
{%- endmacro %}

{#- Trimmed, inner whitespace collapsed; ALL CAPS or all lower case becomes Title Case (other
    mixed case, e.g. "McKenzie", is kept as written). -#}
{% macro normalize_name(expr) -%}
    case
        when nullif(btrim({{ expr }}), '') is null then null
        when regexp_replace(btrim({{ expr }}), '\s+', ' ', 'g') in (
            upper(regexp_replace(btrim({{ expr }}), '\s+', ' ', 'g')),
            lower(regexp_replace(btrim({{ expr }}), '\s+', ' ', 'g'))
        ) then initcap(regexp_replace(btrim({{ expr }}), '\s+', ' ', 'g'))
        else regexp_replace(btrim({{ expr }}), '\s+', ' ', 'g')
    end
{%- endmacro %}

{#- A key for comparing names: lower case, letters and digits only. -#}
{% macro name_key(expr) -%}
    nullif(regexp_replace(lower(coalesce({{ expr }}, '')), '[^a-z0-9]+', '', 'g'), '')
{%- endmacro %}

{#- https://www.linkedin.com/in/<slug> (lower-case slug, no query, no trailing slash), or null. -#}
{% macro normalize_linkedin_url(expr) -%}
    case when {{ expr }} ~* 'linkedin\.com/in/[^/?#\s]+'
         then 'https://www.linkedin.com/in/' || lower(substring({{ expr }} from '(?i)linkedin\.com/in/([^/?#\s]+)'))
    end
{%- endmacro %}
