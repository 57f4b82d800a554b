"""Start the web app: `python app.py [--host 127.0.0.1] [--port 7860]` (or BOT_HOST / BOT_PORT)."""

import argparse
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def main() -> None:
    from bot.settings import get_settings

    settings = get_settings()
    parser = argparse.ArgumentParser(description="增值电信许可问答：聊天页面与 API")
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    args = parser.parse_args()

    import uvicorn

    from bot.web import create_app

    print(f"正在启动：http://{args.host}:{args.port}/ （索引在后台建立或刷新，进度见下方）", flush=True)
    # proxy_headers off: the guard decides whom to believe about client addresses (BOT_TRUST_PROXY,
    # BOT_TRUSTED_PROXIES); uvicorn would otherwise trust X-Forwarded-For from 127.0.0.1.
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning", proxy_headers=False,
                server_header=False, timeout_keep_alive=5, h11_max_incomplete_event_size=16384)


if __name__ == "__main__":
    main()
