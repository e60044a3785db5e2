"""The pose stage: video frames -> every performer's body and hand keypoints (foley_engine.keypoints).

extract.py runs and caches it (one MediaPipe worker process per core, mediapipe_runner.py), people.py finds and
follows several people in a frame, tracking.py joins the detections into performers over time.
"""

from .extract import PoseSettings, extract_keypoints

__all__ = ["PoseSettings", "extract_keypoints"]
