"""The dashboard's logic (webui/) with real files, and its pages through Streamlit's AppTest:
upload names, checks and submission, history with paging, ZIP export, deletion, languages,
the password gate, live job cards with cancel, and the log view."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine.testing.media import make_corrupt_file, make_test_audio, make_test_video
from spooler import protocol
from spooler.config import layout_for
from spooler.records import JobState
from spooler.testing import write_finished_job
from webui import export, history, jobs, tables
from webui.i18n import LANGUAGES, TEXT, preferred_language, state_name, text
from webui.jobs import Upload
from webui.uploads import safe_name, save_upload, unique_path

DASHBOARD = str(Path(__file__).resolve().parents[2] / "dashboard.py")


@pytest.fixture()
def layout(tmp_path, monkeypatch):
    monkeypatch.setenv("LIPSPOOL_ROOT", str(tmp_path / "root"))
    monkeypatch.delenv("LIPSPOOL_PASSWORD", raising=False)
    return layout_for(tmp_path / "root")


@pytest.fixture(autouse=True)
def fresh_login_throttle(monkeypatch):
    """Wrong passwords are counted process-wide: each test starts with none."""
    from webui import throttle

    monkeypatch.setattr(throttle, "LOGIN", throttle.Throttle())


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    return {"audio": make_test_audio(d / "speech.wav", seconds=1.0),
            "video": make_test_video(d / "anna.mp4", seconds=0.5),
            "corrupt": make_corrupt_file(d / "broken.mp4")}


def _upload(path: Path, name: str | None = None) -> Upload:
    return Upload(name or path.name, io.BytesIO(path.read_bytes()))


@pytest.mark.parametrize(("given", "expected"), [
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\x\\讲师 一.MP4", "讲师 一.mp4"),
    ("a\x00b\x1f.mp4", "ab.mp4"),
    ("  .hidden.mov", "hidden.mov"),
    ('what?<>|".wav', "what_____.wav"),
    ("", "file"),
])
def test_upload_names_are_made_safe(given: str, expected: str) -> None:
    assert safe_name(given) == expected


def test_long_chinese_upload_names_fit_with_their_temporary_and_unique_forms(tmp_path) -> None:
    name = safe_name("讲" * 119 + ".mp4")  # 361 bytes as given (a browser sends what the user's disk allows)
    assert name.startswith("讲讲") and name.endswith(".mp4") and len(name.encode()) <= 255 - 10
    for _ in range(3):
        path = save_upload(io.BytesIO(b"x"), tmp_path, name)
        assert len(f".{path.name}.part".encode()) <= 255


def test_unique_path_never_overwrites(tmp_path) -> None:
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "a-2.mp4").write_bytes(b"x")
    assert unique_path(tmp_path, "a.mp4").name == "a-3.mp4"


def test_submit_copies_checks_and_queues_the_usable_videos(layout, media) -> None:
    result = jobs.submit_uploads(layout, _upload(media["audio"]),
                                 [_upload(media["video"]), _upload(media["video"]), _upload(media["corrupt"])],
                                 {"backend": "none", "crf": 23}, name="周一课程")
    assert result.job_id and result.videos == 2
    assert [n for n, _ in result.problems] == ["broken.mp4"] and "broken.mp4" in result.problems[0][1]
    job = protocol.load_job(protocol.find_job_file(layout, result.job_id))
    inputs = layout.results / result.job_id / "inputs"
    assert Path(job.audio) == inputs / "speech.wav"
    assert [Path(v).name for v in job.videos] == ["anna.mp4", "anna-2.mp4"]
    assert all(Path(v).read_bytes() == media["video"].read_bytes() for v in job.videos)
    assert not (inputs / "broken.mp4").exists()
    assert job.name == "周一课程" and job.options == {"backend": "none", "crf": 23}
    assert protocol.read_status(layout, result.job_id).state == JobState.QUEUED


def test_a_bad_audio_submits_nothing(layout, media) -> None:
    result = jobs.submit_uploads(layout, _upload(media["corrupt"], "speech.wav"), [_upload(media["video"])])
    assert not result.job_id and result.problems and result.problems[0][0] == "speech.wav"
    assert list(layout.results.iterdir()) == [] and protocol.queued_files(layout) == []


def _finished_job(layout, tmp_path, n_items: int, name: str = "", created: str | None = None) -> str:
    """A job that 'ran' (see spooler.testing)."""
    return write_finished_job(layout, [f"v{i}.mp4" for i in range(n_items)], name=name, created=created)


def test_history_lists_items_newest_first_filters_and_pages(layout, tmp_path) -> None:
    old = _finished_job(layout, tmp_path, 2, "old", created="2026-01-01T00:00:00.000+00:00")
    new = _finished_job(layout, tmp_path, 3, "lecture", created="2026-02-01T00:00:00.000+00:00")
    rows = history.history(layout)
    assert [r.job_id for r in rows] == [new] * 3 + [old] * 2
    assert all(r.output and r.thumbnail for r in rows)
    frame = tables.history_frame(rows)
    assert list(tables.filter_history(frame, query="LECT")["job_id"]) == [new] * 3
    assert tables.filter_history(frame, states=["failed"]).empty
    page, pages = tables.page_of(frame, 2, size=2)
    assert pages == 3 and list(page["presenter"]) == ["v2.mp4", "v0.mp4"]
    assert list(tables.page_of(frame, 99, size=2)[0]["job_id"]) == [old]
    assert history.thumbnail_uri(rows[0].thumbnail).startswith("data:image/jpeg;base64,")
    assert history.thumbnail_uri("") == history.thumbnail_uri(str(tmp_path / "gone.jpg")) == history.NO_THUMBNAIL


def test_zip_export_holds_every_file_under_unique_names(layout, tmp_path) -> None:
    job_id = _finished_job(layout, tmp_path, 2)
    rows = [r for r in history.history(layout) if r.job_id == job_id]
    files = [(Path(r.output), Path(r.output).name) for r in rows] + [(Path(rows[0].output), Path(rows[0].output).name)]
    dest = export.write_zip(files, export.export_folder(layout.root) / f"{job_id}.zip")
    with zipfile.ZipFile(dest) as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == ["01_v0-2.mp4", "01_v0.mp4", "02_v1.mp4"]
        assert zf.read("02_v1.mp4") == Path(rows[1].output).read_bytes()


def test_delete_removes_a_finished_job_and_refuses_a_queued_one(layout, tmp_path, media) -> None:
    job_id = _finished_job(layout, tmp_path, 1)
    jobs.delete(layout, job_id)
    assert not (layout.results / job_id).exists() and protocol.read_status(layout, job_id) is None
    assert protocol.find_job_file(layout, job_id) is None
    queued = jobs.submit_uploads(layout, _upload(media["audio"]), [_upload(media["video"])]).job_id
    with pytest.raises(protocol.InvalidJob, match="cancel it first"):
        jobs.delete(layout, queued)
    assert (layout.results / queued).exists()


def test_languages_have_the_same_texts_and_follow_the_browser() -> None:
    assert set(TEXT["zh"]) == set(TEXT["en"])
    assert preferred_language("en-US,en;q=0.9") == "en"
    assert preferred_language("zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert preferred_language("fr-FR,en;q=0.5") == "en"
    assert preferred_language(None) == "zh"
    assert text("en", "submitted", job="j1", n=3) == "Submitted job j1, videos: 3."
    from spooler.records import ItemState, JobState

    for lang in LANGUAGES:  # every state has a name of its own in each language
        names = [state_name(lang, s.value) for s in (*JobState, *ItemState)]
        assert all(not n.startswith("st_") for n in names)
    assert state_name("zh", "cancelled") == "已取消"


def _app() -> AppTest:
    at = AppTest.from_file(DASHBOARD, default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    return at


def test_page_speaks_chinese_by_default_and_english_on_request(layout) -> None:
    at = _app()
    assert at.title[0].value == TEXT["zh"]["title"]
    assert any(TEXT["zh"]["no_worker"][:10] in w.value for w in at.warning)  # no daemon running
    at.sidebar.radio(key="lang").set_value("en").run()
    assert at.title[0].value == TEXT["en"]["title"]


def test_password_gate(layout, monkeypatch) -> None:
    monkeypatch.setenv("LIPSPOOL_PASSWORD", "s3cret")
    at = _app()
    assert len(at.sidebar.radio) == 1  # only the language switch until logged in
    at.text_input[0].input("wrong")
    at.button[0].click().run()
    assert at.error and at.error[0].value == TEXT["zh"]["wrong_password"]
    at.text_input[0].input("s3cret")
    at.button[0].click().run()
    assert not at.exception and at.sidebar.radio(key="page") is not None


def test_history_page_shows_the_items_and_plays_one(layout, tmp_path) -> None:
    _finished_job(layout, tmp_path, 3, "lecture")
    at = _app()
    at.sidebar.radio(key="page").set_value("page_history").run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert len(table) == 3 and list(table[TEXT["zh"]["presenter"]]) == ["v0.mp4", "v1.mp4", "v2.mp4"]
    assert at.get("video")
    links = [m.value for m in at.markdown if 'download="01_v0.mp4"' in m.value]
    assert links and "app/static/dl/" in links[0]  # served from disk through static serving
    shared = Path(links[0].split('href="')[1].split('"')[0].replace("app/static/", "static/", 1))
    assert (Path(DASHBOARD).parent / shared).read_bytes().endswith(b"v0.mp4")


def test_jobs_page_shows_a_queued_job_and_cancels_it(layout, media) -> None:
    job_id = jobs.submit_uploads(layout, _upload(media["audio"]), [_upload(media["video"])], name="周会").job_id
    at = _app()
    at.sidebar.radio(key="page").set_value("page_jobs").run()
    assert any(job_id in m.value for m in at.markdown)
    assert any("0 / 1" in str(p.proto) for p in at.get("progress"))
    at.button(key=f"cancel-jobs-{job_id}").click().run()
    assert protocol.read_status(layout, job_id).state == JobState.CANCELLED


def test_logs_page_shows_the_tail(layout) -> None:
    layout.log_file.write_text("".join(f"line {i}\n" for i in range(500)), encoding="utf-8")
    at = _app()
    at.sidebar.radio(key="page").set_value("page_logs").run()
    shown = at.code[0].value.splitlines()
    assert shown[0] == "line 300" and shown[-1] == "line 499"
    assert not at.selectbox, "one log file: nothing to choose"


def test_logs_page_offers_each_machines_log(layout) -> None:
    """Daemons on other machines of a shared spool log to files of their own (`run --log-file`)."""
    layout.log_file.write_text("here\n", encoding="utf-8")
    (layout.logs / "lipspool-gpu2.log").write_text("from gpu2\n", encoding="utf-8")
    (layout.logs / "lipspool.log.1").write_text("rotated\n", encoding="utf-8")
    at = _app()
    at.sidebar.radio(key="page").set_value("page_logs").run()
    choice = at.selectbox(key="log-file")
    assert [Path(o).name for o in choice.options] == ["lipspool.log", "lipspool-gpu2.log"]
    assert at.code[0].value.strip() == "here"
    choice.set_value(layout.logs / "lipspool-gpu2.log").run()
    assert not at.exception, at.exception
    assert at.code[0].value.strip() == "from gpu2"


def test_share_links_serve_small_files_from_static_and_refuse_big_ones(tmp_path, monkeypatch) -> None:
    from webui import share

    small = tmp_path / "a b.mp4"
    small.write_bytes(b"x" * 10)
    url = share.share(small)
    assert url.startswith("app/static/dl/") and url.endswith("/a%20b.mp4")
    assert share.share(small) == url  # a page that refreshes gets the same link, not a new copy each run
    monkeypatch.setattr(share, "MAX_STATIC_BYTES", 5)
    assert share.share(small) is None
    assert 'download="a b.mp4"' in share.download_link(url, "下载", "a b.mp4")


def test_static_limit_is_lifted_for_big_results(monkeypatch) -> None:
    from streamlit.web.server.starlette import starlette_routes

    from webui import share

    monkeypatch.setattr(starlette_routes, "MAX_APP_STATIC_FILE_SIZE", 200 * 1024 * 1024)
    monkeypatch.setattr(share, "MAX_STATIC_BYTES", 200 * 1024 * 1024)
    assert share.lift_static_limit(5 * 1024 ** 3)
    assert starlette_routes.MAX_APP_STATIC_FILE_SIZE == share.MAX_STATIC_BYTES == 5 * 1024 ** 3


def test_wav2lip_settings_show_when_a_worker_can_run_it(layout) -> None:
    from spooler.records import WorkerInfo

    at = _app()
    assert "wav2lip" not in at.selectbox(key="single-backend").options  # no worker says it can
    info = WorkerInfo(worker_id="w1", backends=["none", "rewrite", "wav2lip"],
                      checkpoints=["wav2lip_gan.pth", "wav2lip.pth"])
    protocol.write_worker(layout, info)
    at = _app()
    at.selectbox(key="single-backend").set_value("wav2lip").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="single-checkpoint").options == ["wav2lip_gan.pth", "wav2lip.pth"]
    with pytest.raises(KeyError):
        at.selectbox(key="single-fp16")  # an advanced option: behind the switch
    at.toggle(key="single-advanced").set_value(True).run()
    assert at.selectbox(key="single-fp16").value == "auto"
    assert at.number_input(key="single-batch_size").value == 0
    at.selectbox(key="single-backend").set_value("rewrite").run()
    with pytest.raises(KeyError):
        at.selectbox(key="single-checkpoint")  # rewrite has no checkpoint to choose


@pytest.fixture(scope="module")
def presenter_photo(tmp_path_factory) -> Path:
    """The synthetic presenter's face as a PNG (a photo: the template check calls it poor)."""
    import cv2
    import numpy as np

    from measure.evaluate.synthetic import base_face

    path = tmp_path_factory.mktemp("photo") / "lecturer.png"
    cv2.imwrite(str(path), np.ascontiguousarray(base_face()[:, :, ::-1]))
    return path


def test_template_check_of_an_upload_runs_the_engine_cli_in_a_child(layout, presenter_photo) -> None:
    from webui import template_check

    data = io.BytesIO(presenter_photo.read_bytes())
    data.seek(7)  # the submit may be reading the same upload: the check leaves its position alone
    future = template_check.start(layout, "讲师 照片.png", data)
    outcome = future.result(timeout=120)
    assert data.tell() == 7
    assert outcome.error == "" and outcome.verdict == "poor" and outcome.report["is_image"] is True
    assert outcome.report["video"] == "讲师 照片.png" and outcome.report["schema"] == 1
    assert list((layout.cache / "uploads").iterdir()) == []  # the scratch copy is gone
    kind, headline, advice = template_check.lines_for(outcome, "zh")
    assert kind == "error" and "较差" in headline and "照片" in advice[0] and "请录制 10 秒以上" in advice[0]
    kind, headline, advice = template_check.lines_for(outcome, "en")
    assert "poor" in headline and advice[0].startswith("This is a photo")


def test_template_check_of_a_broken_upload_says_why(layout, media) -> None:
    from webui import template_check

    outcome = template_check.check_upload(layout, "broken.mp4", io.BytesIO(media["corrupt"].read_bytes()))
    assert outcome.report is None and outcome.error.startswith("cannot check 'broken.mp4': ")
    assert "not a media file or corrupt" in outcome.error
    kind, headline, advice = template_check.lines_for(outcome, "en")
    assert kind == "info" and headline.startswith("Could not check: cannot check ") and advice == []
    assert template_check.lines_for(outcome, "zh")[1].startswith("无法检查：")


def test_template_check_output_parsing_and_timeout(layout, media) -> None:
    from webui import template_check

    good = template_check.parse_output('noise\n{"verdict": "good", "advice": []}\n', "", 0)
    assert good.verdict == "good"
    bad = template_check.parse_output("", "WARNING something\nerror: cannot check 'x.mp4': no\n", 1)
    assert bad.report is None and bad.error == "cannot check 'x.mp4': no"
    late = template_check.run_check(media["video"], layout.cache, timeout_s=0.01)
    assert late.report is None and "longer than" in late.error
