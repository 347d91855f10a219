"""Training, step 4: teacher-forced fitting with checkpoints and resuming, checkpoint
averaging, and multi-worker training with `tf.distribute`."""
