"""Real cameras: the device API client, its durable outbox, the Frigate bridge and the
RTSP/file motion agent.

Nothing here imports the server's domains: these modules run on the camera owner's
machine and speak to doorstep only over HTTP.
"""
