"""Which zoo model should I fine-tune on my dataset? Ranks the zoo of a finished benchmark run.

A dataset nobody has fine-tuned on (any `load_dataset` spec; see benchmark/recommend_dataset.py):

  .venv/bin/python scripts/recommend.py --config=configs/micro_zoo.py \
      --workdir=workdir/micro_zoo --dataset=folder:/path/to/images [--max_params=2] \
      [--max_gmacs=0.05] [--max_input_size=32] [--families=mobilenet,resnet] [--finetune_top=2]

A benchmark task, held out (its measured top-1 beside the prediction, for evaluation):

  .venv/bin/python scripts/recommend.py --config=configs/micro_zoo.py \
      --workdir=workdir/micro_zoo --task=digits --max_params=2 --max_gmacs=0.01
"""

from absl import flags
from ml_collections import config_flags

from guidedrec_jax import cli, compilation_cache, io
from guidedrec_jax.benchmark import recommend, recommend_dataset

config_flags.DEFINE_config_file("config", None, "configs/micro_zoo.py", lock_config=True)
flags.DEFINE_string("workdir", None, "The benchmark run's workdir.", required=True)
flags.DEFINE_string("dataset", None, "A dataset spec (folder:/path, a catalogue name, ...).")
flags.DEFINE_string("task", None, "Held-out benchmark task (default: config.recommend.task).")
flags.DEFINE_float("max_params", None, "Keep models with <= this many M parameters; 0 = any.")
flags.DEFINE_float("max_gmacs", None, "Keep models with <= this many GMACs; 0 = any.")
flags.DEFINE_integer("max_input_size", None, "Keep models with input side <= this; 0 = any.")
flags.DEFINE_list("families", None, "Keep models of these families (comma-separated).")
flags.DEFINE_list("models", None, "Rank only these zoo models (comma-separated).")
flags.DEFINE_integer("finetune_top", None, "Fine-tune the top-k recommended models (--dataset).")
flags.DEFINE_string("recommender", None, "A saved recommender folder (default: workdir's).")


def main(argv):
  del argv
  compilation_cache.enable()  # persistent JAX compilation cache, $GUIDEDREC_COMPILATION_CACHE
  f = flags.FLAGS
  dataset = f.dataset or f.config.recommend.dataset
  recommend.check_task_request(f.task, dataset, {k: f[k].value for k in recommend.DATASET_ONLY})
  if not dataset:
    table, path = recommend.recommend(f.config, f.workdir, f.task, f.max_params, f.max_gmacs)
    print(io.markdown_table(table.to_dict("records")))
    print("written to", path, "and", path.with_suffix(".csv"))
    return
  overrides = {k: v for k, v in (("dataset", f.dataset), ("max_params", f.max_params),
                                 ("max_gmacs", f.max_gmacs),
                                 ("max_input_size", f.max_input_size),
                                 ("families", f.families), ("models", f.models),
                                 ("finetune_top", f.finetune_top)) if v is not None}
  result = recommend_dataset.run(f.config, f.workdir, overrides, f.recommender)
  print(result["report"])


if __name__ == "__main__":
  flags.mark_flag_as_required("config")
  cli.run(main)
