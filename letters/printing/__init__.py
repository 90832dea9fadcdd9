"""Printing: letters to PDF, one at a time or an event's print run on every core.

The modules read in the order a print run flows, each importing only those before it (letter.py
names stamps.py's StampMap in a type hint only):

- letter.py: one letter to PDF (the web's download, and every letter of a batch), with the
  locked URL fetcher that serves the project's own assets and nothing else, and PrintHTML,
  which gives WeasyPrint only the browser defaults the templates use (templates/letters/ua.css);
- stamps.py: the parts many letters of a batch share, laid out once and drawn into each;
- plan.py: a batch's electorates cut into jobs (cover sheets, letters, labels, envelopes);
- pages.py: jobs rendered to PDF parts, in a pool of processes that fork from a render server
  (render_server.py is the last module that server imports);
- join.py: the parts joined, in order, into the output files as they arrive;
- batch.py: render_batch(), the whole pipeline for one batch (`letters batch-pdf` calls it);
- states.py: the one gate every change of a print run's state goes through;
- runs.py: the print-run service: an event's letters from the database to files, on a
  BatchJob row (claim, progress, failure, the sweep);
- tasks.py: the thin Celery adapters, on the print queue;
- cli.py: `letters batch-pdf`, an attendee CSV to render_batch() without the web app.

Only letter.py, stamps.py and pages.py import WeasyPrint, and only this package does.
Importing the package itself imports nothing: a process that only plans and joins (a Celery
worker, the parent of the render pool) never loads WeasyPrint.
"""
