/** What the child asks of every contender's client (client-*.ts), whatever library is behind it. */

export interface Client {
  emit(record: object): void
  /**
   * Backpressure for clients with a bounded buffer: records refused as "buffer full" wait here and are
   * re-emitted, in order, before anything newer, so a run measures delivery without losing records.
   * `relieve` waits until the backlog is empty; `retry` makes one attempt without waiting.
   */
  relieve?(): Promise<void>
  retry?(): void
  /** The last event of a run: clients that only report completion per event get their callback here. */
  emitLast(record: object): void
  /** Resolves once every event is written (acknowledged, with acks); what it returns goes into the result. */
  finish(): Promise<Record<string, unknown>>
  /**
   * Before the timed phase, not timed: whatever a client does before its first record can go out
   * (connect, prove the connection), with records of its own; returns how many it sent (the sink
   * expects those too). Clients that connect in their constructor or lazily have none.
   */
  ready?(): Promise<number>
  /** Closes connections; not timed. */
  close(): Promise<void>
}

/** Every contender sends its records under this tag. */
export const TAG = 'bench.app'
