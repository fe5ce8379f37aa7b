"""Writes pretrained/lesson-cache: the heavy results of every lesson's default view, for the shipped models.

    python scripts/ship_lesson_cache.py

Each lesson is rendered once with an empty private cache (and no shipped one); the cache entries it
wrote replace pretrained/lesson-cache. Run it after retraining any lesson model (train_zoo.sh does);
tests/lessons/test_shipped_cache.py fails while an entry is missing or stale.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
import tempfile

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    with tempfile.TemporaryDirectory() as private:
        os.environ["VAESTUDIO_CACHE"] = private
        os.environ["VAESTUDIO_LESSON_SHIPPED_CACHE"] = ""
        sys.path.insert(0, REPOSITORY)
        from vaestudio.lessons import list_lessons, render
        from vaestudio.lessons.cache import lesson_cache_directory

        for lesson in list_lessons():
            result = render(lesson.name, None)
            print(f"{lesson.name}: {result.seconds:.1f} s")
        target = os.path.join(REPOSITORY, "pretrained", "lesson-cache")
        shutil.rmtree(target, ignore_errors=True)
        os.makedirs(target)
        for entry in sorted(glob.glob(os.path.join(lesson_cache_directory(), "*.npz"))):
            shutil.copy(entry, target)
            os.chmod(os.path.join(target, os.path.basename(entry)), 0o644)
        print(f"{len(os.listdir(target))} entries in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
