import engine
from engine import RenderOptions


def render(audio, video, out, options=None, progress=None):
    """engine.render with the `none` backend unless a test names one: these tests are about media
    handling (numbered frames, no faces), not lip-sync."""
    opts = options.to_dict() if isinstance(options, RenderOptions) else dict(options or {})
    opts.setdefault("backend", "none")
    return engine.render(audio, video, out, opts, progress=progress)
