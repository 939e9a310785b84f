"""The wav2lip backend through a real daemon: a checkpoint dropped into <root>/models is
announced in the heartbeat, jobs submitted from the shell with --backend wav2lip --checkpoint
render (random weights: plumbing, not quality), and a checkpoint of another model fails its items
with the first mismatching key named."""
from __future__ import annotations

import av
import pytest

torch = pytest.importorskip("torch")

from spool_helpers import copy_into, finished, run_cli, wait_for

from engine.backends.wav2lip.checkpoint import random_weights, save_official
from spooler import protocol
from spooler.records import ItemState, JobState

pytestmark = pytest.mark.integration


def _worker(layout):
    workers = [w.info for w in protocol.list_workers(layout, stale_after_s=30) if w.alive and w.info]
    return workers[0] if workers else None


def test_wav2lip_jobs_from_the_shell_with_a_checkpoint_in_models(root, layout, media, daemons, tmp_path) -> None:
    from measure.evaluate.synthetic import make_talking_clip

    save_official(layout.models / "wav2lip.pth", random_weights(seed=2))
    torch.save({"state_dict": {"module.foo.weight": torch.zeros(2, 2)}}, layout.models / "other_model.pth")
    videos = [copy_into(root, make_talking_clip(tmp_path / f"p{i}.mp4", seconds=1.0, seed=i).path) for i in range(2)]
    audio = copy_into(root, media["audio_short"])
    daemons()
    info = wait_for(lambda: (w := _worker(layout)) and "wav2lip" in w.backends and w, timeout=60,
                    what="the heartbeat to announce wav2lip")
    assert info.checkpoints == ["wav2lip.pth", "other_model.pth"]  # official names first

    good = run_cli(root, "submit", "--audio", str(audio), "--video", *map(str, videos), "--backend", "wav2lip",
                   "--checkpoint", "wav2lip.pth", "--option", "batch_size=4")
    assert good.returncode == 0, good.stderr
    bad = run_cli(root, "submit", "--audio", str(audio), "--video", str(videos[0]), "--backend", "wav2lip",
                  "--checkpoint", "other_model.pth")
    assert bad.returncode == 0, bad.stderr
    good_id, bad_id = good.stdout.split()[-1], bad.stdout.split()[-1]

    s = wait_for(lambda: finished(layout, good_id), timeout=240, what="the wav2lip job")
    assert s.state == JobState.DONE and s.done == 2 and s.backend == "wav2lip"
    for item in s.items:
        with av.open(item.output) as c:
            assert c.streams.audio and sum(1 for _ in c.decode(video=0)) == 25  # 1 s of speech at 25 fps

    s = wait_for(lambda: finished(layout, bad_id), timeout=120, what="the job with the wrong checkpoint")
    assert s.state == JobState.FAILED and s.items[0].state == ItemState.FAILED
    assert "unexpected key 'foo.weight'" in s.items[0].error and "other_model.pth" in s.items[0].error
    assert protocol.folder_of(protocol.find_job_file(layout, bad_id)) == "failed"  # the job file stays
