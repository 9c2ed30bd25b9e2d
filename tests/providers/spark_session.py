"""One local SparkSession for the test session (`local[1]`, small shuffles, no UI): a JVM start
takes 10-20 s, so every Spark test shares it. The sql provider's `spark://local` URLs find it
running and use it.

Use it with `pytest_plugins = ["spark_session"]` and the session fixture `spark`."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    if shutil.which("java") is None:
        pytest.fail(
            "Spark needs Java: install it (Debian: apt-get install default-jre-headless)",
            pytrace=False,
        )
    from pyspark.sql import SparkSession

    warehouse = tempfile.mkdtemp(prefix="cxe-spark-")
    session = (
        SparkSession.builder.master("local[1]")
        .appName("cxe-gate tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", warehouse)
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    shutil.rmtree(warehouse, ignore_errors=True)
