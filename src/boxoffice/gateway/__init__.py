"""The NGINX gateway: one Jinja2 template rendered for local distributed mode or containers."""
