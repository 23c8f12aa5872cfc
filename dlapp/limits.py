"""Every fixed limit dlapp enforces, with its reason. (Limits a deployment may change are
environment settings: see settings.py.)"""

# ---------------------------------------------------------------- prediction
MAX_BATCH = 64  # images or reviews per model call: bounds memory per request on a 2-core, 16 GB Space
MAX_REVIEWS_PER_CALL = 10_000  # one sentiment_batch call; split into MAX_BATCH chunks inside
MAX_CSV_ROWS = 5_000  # reviews per uploaded CSV on the Sentiment tab: ~1 minute of CPU with imdb-best
PREDICT_CONCURRENCY = 16  # prediction calls served at once; their model calls merge (batching.py), so more
#                           waiting callers mean bigger, cheaper batches, not more threads fighting for 2 cores
LIVE_TIME_LIMIT_S = 300  # one visitor's live webcam stream holds a worker at most this long, then stops
MAX_TOP_K = 100  # labels returned per image; more than any dlapp model has classes
UNSURE_BELOW = 0.75  # a calibrated top probability under 3/4 is wrong at least one time in four, so the answer says
#                      it is not sure (tasks/image.answer_note): cifar10-best's test answers under 0.75 were right
#                      58-62% of the time, those over it 76-98% (the reliability bins on its card)
NOTE_MAX_CLASSES = 20  # class names an answer's note lists in full: a 100-class list would bury the sentence
JPEG_REDUCED_MAX = 8  # a baseline JPEG may have 8x DLAPP_MAX_IMAGE_PIXELS (200 MP: the largest phone cameras),
#                       since it is decoded at 1/2-1/8 scale under that cap (images.py); other formats may not

# ---------------------------------------------------------------- training settings (ranges)
BATCH_SIZE_RANGE = (1, 4096)  # 4096 uint8 32×32 images are 12 MB; larger batches only exhaust memory
LEARNING_RATE_RANGE = (0.0, 1.0)  # exclusive of 0; above 1 Adam and AdamW diverge
# The airbench optimizer takes airbench's own unit, a learning rate per 1024 examples (11.5 in airbench94);
# it diverges an order of magnitude above that.
AIRBENCH_LEARNING_RATE_RANGE = (0.0, 100.0)
VALIDATION_SPLIT_RANGE = (0.0, 0.5)  # holding out more than half leaves too little to learn from
SUBSET_RANGE = (1, 1_000_000)  # examples per class; larger than any built-in data set
IMAGE_SIZE_RANGE = (8, 512)  # px, for uploaded image folders: below 8 a CNN has nothing to pool
DEFAULT_FOLDER_IMAGE_SIZE = (64, 64)  # folder images come in any size; 64 px keeps training quick

# ---------------------------------------------------------------- uploads
ZIP_MAX_MEMBERS = 5_000  # a demo data set of class folders; 10k tiny files is an attack
ZIP_MAX_TOTAL_BYTES = 512 * 1024 * 1024  # uncompressed
ZIP_MAX_RATIO = 200  # uncompressed:compressed; real images compress < 2x, bombs > 1000x
MAX_TEXT_ROWS = 200_000  # rows in an uploaded .csv/.jsonl; IMDB's whole training split is 25k
MAX_TABLE_BYTES = 128 * 2**20  # text in one uploaded .csv/.jsonl, counted after decompressing: twice IMDB's
#                                 50,000 reviews (66 MB); a 1 MB .gz can hold 1 GB, so it is counted as it is read
MAX_TABLE_CELL_CHARS = 131_072  # one CSV cell (csv's own default field limit): 2.6x the longest review a model
#                                 takes (DLAPP_MAX_TEXT_CHARS, 50k); beyond it a cell is an attack, not a review
MAX_TABLE_LINE_CHARS = 4 * MAX_TABLE_CELL_CHARS  # one line of a .csv/.jsonl: a review at its limit plus other
#                                                  columns; a longer line is refused before it is read whole
ZIP_MAX_DEPTH = 32  # folders in one archive path: class folders sit 1-3 deep; 2,500 deep is an attack on the file
#                     system (its paths run past PATH_MAX, 4,096 bytes)
ZIP_MAX_NAME_BYTES = 255  # one file or folder name in an archive, in UTF-8: NAME_MAX of Linux file systems

# ---------------------------------------------------------------- live training
POINT_EVERY_S = 0.5  # curve resolution: a point per half second keeps plots live but small
PROGRESS_STREAM_S = 6 * 3600  # a streaming /training_progress call ends after this, whatever happens
START_WAIT_S = 120  # the Train tab shows "Starting…" this long at most while a pressed Start checks its data
CELL_EXAMPLES_BYTES = 900_000  # raw bytes of the test examples kept beside a model for its confusion-matrix
#                               cells (<id>.examples.npz): a few per cell, and the file stays under 1 MB
HUB_PROBE_TIMEOUT_S = 10  # s: one question to the Hub before a pull; a slow network answers a HEAD well within it

# ---------------------------------------------------------------- data checks (data/checks.py, before a training)
CHECK_MIN_SAMPLES = 2  # readable images per class, else blocking: one to train on, one held out for the test split
CHECK_RECOMMENDED_SAMPLES = 10  # per class, else a warning: with fewer, a model mostly memorises its few pictures
CHECK_MAX_IMBALANCE = 3.0  # largest:smallest class, else a warning: beyond it a model learns to answer the big class
CHECK_MIN_SIDE = 16  # px, else a warning: models read 32-64 px, so a smaller picture is mostly upscaling blur
CHECK_FILES_KEPT = 20  # file names a problem keeps: enough to find the culprits, few enough to show

# ---------------------------------------------------------------- sample collections (collection.py, the Train tab)
COLLECTION_MAX_CLASSES = 20  # a webcam demo; more classes than this need more samples than a visitor will take
COLLECTION_MAX_SAMPLES = 2_000  # per collection: 100 per class at the class cap; training it takes minutes on CPU
COLLECTION_MAX_BYTES = 200 * 2**20  # per collection on the server's disk: ~10,000 stored 256-px JPEGs, so the
#                                     sample cap binds first for photos; this one stops noise-like images
COLLECTION_MAX_SIDE = 256  # px, the longer side as stored: models read 32-64 px; more is only disk and upload time
COLLECTION_JPEG_QUALITY = 90  # stored samples: invisible loss at 32-64 px, ~20 KB for a 256-px webcam frame
COLLECTION_MAX_NAME = 40  # characters in a class name: fits a label, a dropdown and a folder name
COLLECTION_MAX_AGE_H = 24  # hours untouched before expire_collections() removes an abandoned collection

# ---------------------------------------------------------------- storage (budget.py; the total is DLAPP_STORAGE_MB)
STORAGE_IN_USE_S = 300  # an item used in the last 5 minutes is someone's work in progress: never removed for room
GRADIO_UPLOAD_IN_USE_S = 30  # a file on Gradio's upload route is read by the request right after it: a flood of
#                                them holds the budget for half a minute, not STORAGE_IN_USE_S
STORAGE_SWEEP_S = 10  # the web app re-checks the budget this often: the only bound on Gradio's raw upload route,
#                       which takes ~85 MB/s with no password, so a burst overshoots by (30 + 10) s of it at most
SESSION_MAX_IDLE_S = 3600  # a visitor's private models, untouched this long, are removed even if the tab stays open
#                            (a gradio_client session never says goodbye): an hour covers a break from a demo
TRAIN_QUEUE_MAX = 8  # visitors waiting to train (one place each): at the 2-minute cap, the last waits ~16 minutes
RUNS_MAX_AGE_H = 7 * 24  # a run checkpoint kept for `--resume` (CLI) is removed after a week unused
GRADIO_CACHE_AGE_S = 1800  # Gradio's upload cache: a file is read by the request right after its upload, and a
#                            download link is followed within minutes; half an hour spares slow visitors
GRADIO_CACHE_SWEEP_S = 300  # how often Gradio looks for cache files past that age

# ---------------------------------------------------------------- export (dlapp/export/)
EXPORT_MIN_AGREEMENT = 0.995  # top-1 agreement a float export needs with the Keras model on held-out examples:
#                               float32 round-off flips at most a near-tie in a few hundred
EXPORT_MAX_INT8_DROP = 0.01  # accuracy a full-integer int8 export may lose (1 point): more is a broken quantization
#                             (on fewer than 100 examples, one example: the test examples kept beside a model
#                             trained on a few dozen uploaded photos cannot resolve 1 point)
EXPORT_CALIBRATION_IMAGES = 200  # training images that set int8 ranges (cifar10-fast: 76.05% vs 76.35% float)
EXPORT_CHECK_EXAMPLES = 1_000  # held-out examples a float export is checked on (int8: the whole test split)
EXPORT_CHECK_TIMEOUT_S = 900  # the fresh checking process: 10k CIFAR-10 images one at a time fit easily
EXPORT_CHECK_S_PER_EXAMPLE = 0.1  # ... and more for longer checks: imdb-best's 25k test reviews one at a time take
#                                   ~20 ms each on an idle core, several times that on a loaded machine

# ---------------------------------------------------------------- the 2-D GAN game (gan2d.py, the Generate tab)
GAN2D_MAX_STEPS = 20_000  # generator steps per game: the ring converges in ~2,000; a tab left playing stops here
#                           instead of holding a core (a game plays only while its visitor's page asks for it)
GAN2D_ROUNDS_RANGE = (1, 1_000)  # rounds (D steps + a G step) per Play tick or /gan2d call: a tick stays well
#                                  under a second; more in one call is the step cap's business
GAN2D_LEARNING_RATE_RANGE = (0.0, 0.1)  # exclusive of 0: Adam on these small nets flies apart well before 0.1
GAN2D_D_STEPS_RANGE = (1, 10)  # discriminator steps per generator step: 10 already starves the generator
GAN2D_NOISE_SIZE_RANGE = (1, 16)  # the generator's input size: 2 draws a 2-D shape; 16 is plenty for any
GAN2D_SEED_RANGE = (0, 2**31 - 1)  # what NumPy and TensorFlow seeds take
GAN2D_POINTS_SHOWN = 300  # real and generated points drawn: the modes read at a glance; a phone draws them quickly
GAN2D_POINTS_SHOWN_RANGE = (10, 1_000)  # ... at most as many as the quality is measured on
GAN2D_GRID = 40  # the decision surface's cells per side: 1,600 D evaluations a frame, smooth enough on a phone
GAN2D_GRID_RANGE = (8, 80)  # 6,400 cells: a frame's JSON stays ~100 KB
GAN2D_QUALITY_POINTS = 1_000  # generated points the quality figure is measured on: a fair share of 125 per mode
GAN2D_HISTORY_EVERY = 25  # generator steps per point of the loss curves: 800 points at the step cap
GAN2D_TICK_S = 0.5  # Play redraws this often: smooth enough to follow a point, and a phone keeps up
GAN2D_ROUNDS_PER_TICK = 50  # rounds per redraw: ~0.1-0.2 s of one core; the ring converges in ~15 ticks
GAN2D_CONCURRENCY = 2  # games stepping at once (every visitor's): the two cores stay shared with predictions
GAN2D_IDLE_S = 3600  # a visitor's game (~0.3 MB of arrays) untouched this long is dropped from memory
GAN2D_API_MAX_STEPS = 5_000  # generator steps in one /gan2d call: ~10-20 s of one core, past convergence
GAN_LATENT_RANGE = (2, 1_024)  # noise numbers per picture: 128 is DCGAN's usual; far more only slows the first layer
GAN_WIDTH_RANGE = (8, 256)  # the generator's last conv width: 64 takes ~110 s per CIFAR-10 epoch here, 256 ~16x that
MAX_GENERATE = 64  # pictures per generator call (a grid of 8×8): bounds memory and CPU per request, as MAX_BATCH
MAX_SEED = 2**31 - 1  # a picture's seed: any 31-bit number, so a URL or a CLI line can name one
MAX_INTERPOLATION_STEPS = 16  # pictures along one interpolation: a row that still reads on a phone
