// Runs Step Functions definitions with aws-local-stepfunctions and answers
// every Task state by POSTing its input to <base>/task/<state name>.
// One process serves many executions. Commands arrive as JSON lines on stdin:
//   {"cmd":"start","id":"...","definition":{...},"input":{...},"base":"http://..."}
//   {"cmd":"abort","id":"..."}   (as StopExecution)
// Events leave as JSON lines on stdout, tagged with the execution id; the last
// one of an execution is {"event":"end","status":...}.
import { StateMachine } from 'aws-local-stepfunctions';
import readline from 'node:readline';

const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const running = new Map();

function taskHandlers(definition, base) {
  const handlers = {};
  const waits = {};
  const retries = {};
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Type === 'Wait') waits[name] = 0;
    if (state.Type !== 'Task') continue;
    retries[name] = 0;
    handlers[name] = async (taskInput) => {
      const res = await fetch(`${base}/task/${encodeURIComponent(name)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(taskInput),
      });
      const body = await res.json();
      if (res.status !== 200) {
        const err = new Error(body.errorMessage);
        err.name = body.errorType;
        throw err;
      }
      // The lambda:invoke integration wraps the function's result.
      return { StatusCode: 200, Payload: body };
    };
  }
  return { taskResourceLocalHandlers: handlers, waitTimeOverrides: waits, retryIntervalOverrides: retries };
}

async function start({ id, definition, input, base }) {
  const machine = new StateMachine(definition);
  const execution = machine.run(input, {
    overrides: taskHandlers(definition, base),
    context: { Execution: { Id: id, Name: id.split(':').pop(), Input: input } },
  });
  running.set(id, execution);
  let failure = null;
  const logs = (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type === 'ExecutionFailed') failure = { error: event.Error, cause: event.Cause };
      if (event.state) emit({ id, event: event.type, state: event.state.name, error: event.Error });
    }
  })();
  let end;
  try {
    end = { status: 'SUCCEEDED', output: await execution.result };
  } catch (err) {
    if (err.name === 'ExecutionAbortedError') end = { status: 'ABORTED' };
    else if (err.name === 'ExecutionTimeoutError') end = { status: 'TIMED_OUT' };
    else end = { status: 'FAILED', error: err.name, cause: err.message };
  }
  await logs.catch(() => {});
  if (failure) Object.assign(end, failure);
  running.delete(id);
  emit({ id, event: 'end', ...end });
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    return;
  }
  if (msg.cmd === 'start') start(msg).catch((err) => emit({ id: msg.id, event: 'end', status: 'FAILED', error: err.name, cause: err.message }));
  if (msg.cmd === 'abort') running.get(msg.id)?.abort();
});
