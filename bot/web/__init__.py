"""The web: the admin dashboard (/admin) and the pages of the web chat (/chat).

Kept free of imports, so that importing a pure helper of this package (from the CLI or the
dialogs) does not load the web server's modules.
"""
