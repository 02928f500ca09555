// Whole-thread copy on the checkpoint tables, for forking a thread at a checkpoint (inside the caller's
// transaction, so the new thread's row and its checkpoints appear together).
import type pg from "pg";

/**
 * Copy a thread's checkpoints up to and including `checkpointId` (every namespace, so subgraph state
 * comes along) to a new thread id. Checkpoint ids are time-ordered (uuid6), so "up to" is `<=`.
 * The target's own pending writes are left behind: the fork re-runs that step (a decision already
 * given on the original thread is asked for again). Returns the number of checkpoints copied.
 */
export async function copyThread(client: pg.ClientBase, fromThread: string, toThread: string, checkpointId: string): Promise<number> {
  {
    const { rowCount } = await client.query(
      `INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata)
       SELECT $2, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata
         FROM checkpoints WHERE thread_id = $1 AND checkpoint_id <= $3`,
      [fromThread, toThread, checkpointId],
    );
    await client.query(
      `INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
       SELECT $2, checkpoint_ns, channel, version, type, blob FROM checkpoint_blobs WHERE thread_id = $1`,
      [fromThread, toThread],
    );
    await client.query(
      `INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, blob, task_path)
       SELECT $2, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, blob, task_path
         FROM checkpoint_writes WHERE thread_id = $1 AND checkpoint_id < $3`,
      [fromThread, toThread, checkpointId],
    );
    return rowCount ?? 0;
  }
}
