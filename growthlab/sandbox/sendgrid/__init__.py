"""The stand-in SendGrid: v3 mail send, Event Webhook settings and signed event delivery."""
