"""The stand-in LinkedIn: data-export archives in the inbox, the outreach adapter, Share on LinkedIn."""
