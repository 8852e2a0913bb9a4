"""The run directory (docs/run-format.md), written from Python."""

from .validate import RUN_SCHEMA, RunFormatError, validate_event, validate_manifest, validate_metrics_row, validate_rollout
from .writer import (
    CheckpointError,
    RunBusyError,
    RunWriter,
    WRITER_LOCK,
    checkpoint_complete,
    clean_checkpoint_leftovers,
    derive_status,
    encode_png,
    json_line,
    latest_checkpoint,
    list_checkpoints,
    mark_interrupted_as_failed,
    parse_step_name,
    pid_alive,
    read_checkpoint,
    read_events,
    read_manifest,
    step_name,
)

__all__ = [
    "RUN_SCHEMA", "RunFormatError", "validate_event", "validate_manifest", "validate_metrics_row", "validate_rollout",
    "CheckpointError", "RunBusyError", "RunWriter", "WRITER_LOCK", "checkpoint_complete", "clean_checkpoint_leftovers", "derive_status", "encode_png",
    "json_line", "latest_checkpoint", "list_checkpoints", "mark_interrupted_as_failed", "parse_step_name", "pid_alive",
    "read_checkpoint", "read_events", "read_manifest", "step_name",
]
