"""The dashboard's texts in Chinese and English, and which language a browser prefers."""
from __future__ import annotations

LANGUAGES = ("zh", "en")
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "title": "LipSpool 批量口型同步",
        "page_single": "单个处理", "page_batch": "批量处理", "page_jobs": "任务进度", "page_history": "历史记录",
        "page_logs": "日志",
        "no_worker": "后台工作进程未运行 — 请在服务器上运行 `scripts/start.sh` 或 `python -m spooler run` 启动",
        "workers": "工作进程",
        "audio": "语音音频", "video": "人物视频", "videos": "人物视频（可多选）",
        "job_name": "任务名称（可选）", "generate": "生成", "generate_all": "全部生成",
        "options": "选项", "advanced": "高级选项", "queued_videos": "待处理视频", "remove": "移除",
        "need_audio": "请先上传一个语音音频。", "need_video": "请至少上传一个人物视频。",
        "bad_file": "{name}：{reason}", "submitted": "已提交任务 {job}（{n} 个视频）。",
        "no_jobs": "还没有任务。", "queue_pos": "排队第 {pos} 位", "current": "正在处理",
        "cancel": "取消", "cancel_sent": "已请求取消 {job}。", "eta": "预计剩余 {eta}",
        "state": "状态", "name": "名称", "presenter": "人物视频", "duration": "时长", "created": "创建时间",
        "thumbnail": "缩略图", "filter_state": "按状态筛选", "filter_text": "搜索",
        "page": "页", "play": "播放", "download": "下载", "zip": "打包 ZIP", "zip_ready": "下载",
        "delete": "删除任务", "confirm_delete": "确认删除该任务及其所有文件", "deleted": "已删除 {job}。",
        "select_job": "选择任务", "no_results": "没有符合条件的记录。", "log_path": "日志文件：",
        "log_choose": "哪台机器的日志",
        "password": "密码", "wrong_password": "密码错误。", "login": "登录",
        "login_wait": "密码错误次数过多，请等待 {s} 秒后再试（等待期间的尝试不会被检查）。",
        "result": "结果", "all": "全部", "pick_items": "要打包的结果",
        "st_queued": "排队中", "st_running": "处理中", "st_interrupted": "已中断", "st_done": "完成",
        "st_done_with_failures": "完成（有失败）", "st_failed": "失败", "st_cancelled": "已取消",
        "st_rejected": "被拒绝",
        "received": "已收到",
        "copying": "正在复制并检查 {n} 个文件…",
        "workers_live": "工作进程：{n} 个在线",
        "tc_title": "模板检查", "tc_checking": "正在检查 {name} 是否适合作模板…",
        "tc_good": "良好", "tc_usable": "可用", "tc_poor": "较差",
        "tc_failed": "无法检查：{reason}",
        "tc_figures": "人脸 {face}% 的画面，高 {px} 像素；说话约 {speech:.0f} 秒；{shapes} 种嘴型",
        "tc_figures_photo": "照片；人脸高 {px} 像素",
        "output": "结果文件", "open": "打开", "item": "序号", "stage": "阶段", "progress": "进度", "worker": "工作进程",
        "host": "主机", "device": "设备", "job": "任务", "heartbeat_age": "心跳距今",
        "ws_idle": "空闲", "ws_busy": "处理中", "ws_stopping": "正在停止", "ws_stopped": "已停止",
    },
    "en": {
        "title": "LipSpool batch lip-sync",
        "page_single": "Single", "page_batch": "Batch", "page_jobs": "Progress", "page_history": "History",
        "page_logs": "Logs",
        "no_worker": "The worker is not running — start it with `scripts/start.sh` or `python -m spooler run` "
                     "on the server",
        "workers": "Workers",
        "audio": "Speech audio", "video": "Presenter video", "videos": "Presenter videos (several at once)",
        "job_name": "Job name (optional)", "generate": "Generate", "generate_all": "Generate all",
        "options": "Options", "advanced": "Advanced options", "queued_videos": "Videos to process", "remove": "Remove",
        "need_audio": "Upload a speech audio first.", "need_video": "Upload at least one presenter video.",
        "bad_file": "{name}: {reason}", "submitted": "Submitted job {job}, videos: {n}.",
        "no_jobs": "No jobs yet.", "queue_pos": "queued, position {pos}", "current": "Now",
        "cancel": "Cancel", "cancel_sent": "Cancel requested for {job}.", "eta": "about {eta} left",
        "state": "State", "name": "Name", "presenter": "Presenter video", "duration": "Duration",
        "created": "Created", "thumbnail": "Thumbnail", "filter_state": "Filter by state", "filter_text": "Search",
        "page": "Page", "play": "Play", "download": "Download", "zip": "Pack as ZIP", "zip_ready": "Download",
        "delete": "Delete job", "confirm_delete": "Yes, delete this job and all its files", "deleted": "Deleted {job}.",
        "select_job": "Job", "no_results": "Nothing matches.", "log_path": "Log file:", "log_choose": "Log of",
        "password": "Password", "wrong_password": "Wrong password.", "login": "Log in",
        "login_wait": "Too many wrong passwords: wait {s} s before trying again (tries before then are not "
                      "checked).",
        "result": "Result", "all": "All", "pick_items": "Results to pack",
        "st_queued": "queued", "st_running": "running", "st_interrupted": "interrupted", "st_done": "done",
        "st_done_with_failures": "done, some failed", "st_failed": "failed", "st_cancelled": "cancelled",
        "st_rejected": "rejected",
        "received": "Received",
        "copying": "Copying and checking {n} files…",
        "workers_live": "Workers: {n} live",
        "tc_title": "Template check", "tc_checking": "Checking whether {name} makes a good template…",
        "tc_good": "good", "tc_usable": "usable", "tc_poor": "poor",
        "tc_failed": "Could not check: {reason}",
        "tc_figures": "face in {face}% of the frames, {px} px high; about {speech:.0f} s of speech; "
                      "{shapes} mouth shapes",
        "tc_figures_photo": "a photo; face {px} px high",
        "output": "Result file", "open": "Open", "item": "Item", "stage": "Stage", "progress": "Progress",
        "worker": "Worker",
        "host": "Host", "device": "Device", "job": "Job", "heartbeat_age": "Heartbeat age",
        "ws_idle": "idle", "ws_busy": "running", "ws_stopping": "stopping", "ws_stopped": "stopped",
    },
}


def preferred_language(accept_language: str | None) -> str:
    """'zh' or 'en' from an Accept-Language header: the first of them the browser lists; Chinese otherwise."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "zh"


def state_name(lang: str, state: str) -> str:
    """A job or item state (its enum value) in `lang`."""
    return text(lang, f"st_{state}")


def text(lang: str, key: str, **values: object) -> str:
    """The text `key` in `lang`, formatted with `values`."""
    table = TEXT.get(lang, TEXT["zh"])
    return table.get(key, TEXT["en"].get(key, key)).format(**values)
