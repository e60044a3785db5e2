"""Note sources: what turns a range of video (its keypoints, and the frames where a source needs them) into notes.

baseline.py reads strikes off the motion with rules, keys.py reads the keys of a keyboard seen in the frame;
the learned model lives in foley_engine.model.
"""
