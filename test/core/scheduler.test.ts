/** One scheduler for every credential: one clock timer, whatever the number of tasks. */
import { describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { Scheduler, Task } from "../../src/core/scheduler.js";

describe("Scheduler", () => {
  it("runs tasks in time order from a single clock timer, and moves or cancels one in place", async () => {
    const clock = new FakeClock();
    const scheduler = new Scheduler(clock);
    const ran: number[] = [];
    const tasks = Array.from({ length: 1000 }, (_, i) => new Task(() => ran.push(i)));
    // Scheduled in a scrambled order.
    tasks.forEach((t, i) => scheduler.schedule(t, clock.now() + ((i * 7919) % 1000) * 10 + 10));
    expect(clock.pending()).toBe(1);
    expect(scheduler.size).toBe(1000);
    scheduler.cancel(tasks[3]!);
    scheduler.schedule(tasks[5]!, clock.now() + 1);
    await clock.advance(20_000);
    expect(ran).toHaveLength(999);
    expect(ran[0]).toBe(5);
    expect(ran).not.toContain(3);
    const times = ran.slice(1).map((i) => ((i * 7919) % 1000) * 10);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(clock.pending()).toBe(0);
  });

  it("runs a due backlog in batches, yielding between them", async () => {
    const clock = new FakeClock();
    const scheduler = new Scheduler(clock);
    let ran = 0;
    for (let i = 0; i < 2000; i++) scheduler.schedule(new Task(() => ran++), clock.now());
    await clock.advance(0);
    expect(ran).toBe(2000);
  });

  it("keeps running the others when a task throws", async () => {
    const clock = new FakeClock();
    const scheduler = new Scheduler(clock);
    const ran: string[] = [];
    scheduler.schedule(
      new Task(() => {
        throw new Error("boom");
      }),
      clock.now() + 1,
    );
    scheduler.schedule(new Task(() => ran.push("b")), clock.now() + 2);
    await clock.advance(10);
    expect(ran).toEqual(["b"]);
  });
});
