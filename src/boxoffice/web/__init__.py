"""The server-rendered web site (talks to the services only through the gateway API)."""
