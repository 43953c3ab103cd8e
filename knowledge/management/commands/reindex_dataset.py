"""``manage.py reindex_dataset [DATASET_ID ...] [--all] --to STORE``: copy datasets' vectors into another
search store (exact, sqlite-vec, pgvector, qdrant), with progress, before switching ``VECTOR_STORE``.

``--optimize`` builds the index of a store that builds it offline (Qdrant Edge, the in-process local mode
of ``qdrant``: HNSW, about 150 s at 100k points on 2 cores, blocking). Opt-in: without it Edge searches
its segments exactly (recall 1.0, p95 about 24 ms at 100k), while its default HNSW kept only 0.09 of
the true top 10 on the benchmark's random vectors (real embeddings fare better; measure on yours). Edge
lets one process own its directory, so with it this command must run while the server (and any worker
using the store) is stopped.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from knowledge.index.chooser import STORE_NAMES, build_store
from knowledge.models import Dataset
from knowledge.services.reindex import BATCH, dataset_reindex_to


class Command(BaseCommand):
    help = "Copy the vectors of datasets into another search store (then set VECTOR_STORE to it)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset_ids", nargs="*", help="datasets to move (ids)")
        parser.add_argument("--all", action="store_true", help="every dataset of every workspace")
        parser.add_argument("--to", required=True, choices=STORE_NAMES, help="the target store")
        parser.add_argument("--batch", type=int, default=BATCH, help=f"nodes per write (default {BATCH})")
        parser.add_argument(
            "--optimize",
            action="store_true",
            help="build the approximate (HNSW) index at the end (Qdrant Edge; faster, less exact)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["dataset_ids"] and not options["all"]:
            raise CommandError("Name the datasets to move, or pass --all")
        try:
            store = build_store(options["to"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        datasets = Dataset.objects.order_by("created_at")
        if not options["all"]:
            datasets = datasets.filter(id__in=options["dataset_ids"])
            found = {str(d) for d in datasets.values_list("id", flat=True)}
            missing = sorted(set(options["dataset_ids"]) - found)
            if missing:
                raise CommandError(f"No such dataset: {', '.join(missing)}")
        total_nodes = 0
        started = time.perf_counter()
        for dataset in datasets:

            def progress(done: int, total: int, _name: str = dataset.name) -> None:
                self.stdout.write(f"  {_name}: {done}/{total} nodes")

            self.stdout.write(f"dataset {dataset.id} ({dataset.name}) -> {store.name}")
            total_nodes += dataset_reindex_to(
                dataset=dataset, store=store, batch=max(1, options["batch"]), progress=progress
            )
        optimize = getattr(store.vectors, "optimize", None)
        if optimize is not None and options["optimize"]:
            self.stdout.write(f"optimizing {store.name} (building its index)")
            self.stdout.write(f"  optimized in {optimize():.1f} s")
        seconds = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(f"{total_nodes} nodes written to {store.name} in {seconds:.1f} s")
            + f"; set VECTOR_STORE={options['to']} to search there"
        )
