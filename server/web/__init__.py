"""The benchmark server's web pages (issue 16): runs, a run, the leaderboard and the task catalogue, rendered on
the server with Jinja2 (server/web/templates), a little CSS and JavaScript (server/web/static), and charts drawn
with matplotlib as inline SVG. Nothing comes from a CDN.

pages.py is the router (included by server/app.py), views.py turns the store's rows into what the templates show,
chart.py draws the leaderboard's chart, session.py is the browser's login (an HttpOnly session cookie standing
for the server's token). This file imports nothing: server/errors.py imports session.py.
"""
