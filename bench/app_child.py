"""What the benchmark's app children share: the lines that build the app as `loss-tutor` does and note the time of
every frame it draws, in `frames` (`first_after(frames, moment)`: the first frame drawn after a moment). A child
script starts with `import sys, time` and these lines."""

BUILD_AND_RECORD_FRAMES = """
from tutor.cli import build_app, build_parser

app = build_app(build_parser().parse_args([]))
frames = []
draw = app._display
def recorded_display(screen, renderable):
    draw(screen, renderable)
    if renderable is not None:
        frames.append(time.time())
app._display = recorded_display

def first_after(stamps, moment):
    return next((stamp for stamp in stamps if stamp > moment), float("nan"))
"""
