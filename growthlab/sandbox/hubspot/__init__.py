"""The stand-in HubSpot: CRM v3 objects, associations v4, owners, email events, properties."""
