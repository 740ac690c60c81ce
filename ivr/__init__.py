"""The free 24/7 balance line (Twilio Voice webhooks answered with TwiML). Built in its own issue."""
