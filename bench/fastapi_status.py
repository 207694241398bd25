"""fastapi_status.py: the reference for bench/api.sh: a minimal FastAPI app
serving GET /api/v1/jobs/{id} from the same SQLite database as `vsr serve`,
with the same bearer-key check (SHA-256 of the token looked up in api_keys)
and a similar JSON body. Run by bench/api.sh under uvicorn (Debian's
python3-fastapi and uvicorn); VSR_DB names the database."""
import hashlib
import os
import sqlite3
import threading

from fastapi import FastAPI, Header, HTTPException

DB = os.environ["VSR_DB"]
app = FastAPI()
local = threading.local()


def db():
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(DB, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        local.conn = conn
    return conn


@app.get("/health/healthz")
def healthz():
    return {"status": "ok"}


@app.get("/api/v1/jobs/{job_id}")
def get_job(job_id: str, authorization: str = Header(default="")):
    if not authorization.startswith("Bearer "):
        raise HTTPException(status_code=401, detail="unauthorized")
    digest = hashlib.sha256(authorization[7:].strip().encode()).hexdigest()
    conn = db()
    key = conn.execute(
        "SELECT id FROM api_keys WHERE secret_hash = ? AND revoked_at = 0", (digest,)
    ).fetchone()
    if key is None:
        raise HTTPException(status_code=401, detail="unauthorized")
    job = conn.execute(
        "SELECT id, type, state, progress, upload_id, attempts, max_attempts, created_at,"
        " started_at, finished_at, error_code, error_message FROM jobs"
        " WHERE id = ? AND key_id = ?",
        (job_id, key["id"]),
    ).fetchone()
    if job is None:
        raise HTTPException(status_code=404, detail="not_found")
    return {
        "id": job["id"],
        "type": job["type"],
        "status": job["state"],
        "progress": job["progress"],
        "upload_id": job["upload_id"],
        "attempts": job["attempts"],
        "max_attempts": job["max_attempts"],
        "created_at": job["created_at"],
        "started_at": job["started_at"],
        "finished_at": job["finished_at"],
        "error": {"code": job["error_code"], "message": job["error_message"]}
        if job["error_code"]
        else None,
    }
