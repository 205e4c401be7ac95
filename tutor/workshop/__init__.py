"""`loss-tutor serve`: the workshop server. Participants connect over SSH with any name; each session is
the tutor app in its own process on a pseudo-terminal, with its progress kept per name.

No module here imports torch. The server (`server`, `pty_session`, `command`) never imports Textual either: it
only moves bytes between SSH channels and terminals; the instructor's dashboard (`dashboard*`) is a Textual
app run in the server's event loop.
"""
