"""What the benchmark's app children share: the lines that build the app as `loss-tutor` does and note the time of
every frame it draws, in `frames` (`first_after(frames, moment)`: the first frame drawn after a moment). A child
script starts with `import sys, time` and these lines; its auto pilot starts with `await numbers_on_screen(poll)`,
which from the first frame on notes a tick of the event loop every 5 ms in `ticks`, and returns once the first
lesson's numbers have arrived."""

BUILD_AND_RECORD_FRAMES = """
from tutor.cli import build_app, build_parser

app = build_app(build_parser().parse_args([]))
frames, ticks = [], []
draw = app._display
def recorded_display(screen, renderable):
    draw(screen, renderable)
    if renderable is not None:
        frames.append(time.time())
app._display = recorded_display

def first_after(stamps, moment):
    return next((stamp for stamp in stamps if stamp > moment), float("nan"))

async def numbers_on_screen(poll):
    import asyncio
    while not frames:
        await asyncio.sleep(0.001)
    ticks.append(frames[0])
    app.set_interval(0.005, lambda: ticks.append(time.time()))
    while app.session.report is None:
        await asyncio.sleep(poll)
    return time.time()
"""
