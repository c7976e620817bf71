"""The dashboard: static pages served by packtwin itself (no CDN, no build step) and the small JSON endpoints and
server-sent-events stream they read, mounted on the AAS API server with :func:`packtwin.web.routes.dashboard_routes`.
"""
