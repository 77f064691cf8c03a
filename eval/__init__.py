"""lsr.eval: BEIR datasets, retrieval metrics (pytrec_eval), TREC run files, evaluation runs.

Modules: ``lsr.eval.beir`` (``load_beir``, ``download_beir``), ``lsr.eval.metrics``
(``evaluate``), ``lsr.eval.run_file`` (TREC runs and qrels), ``lsr.eval.pipeline``
(``evaluate_encoder``, what ``lsr eval`` runs). Nothing is imported eagerly, so importing
``lsr.eval`` costs nothing; only the core ``lsr`` package is a dependency.
"""
