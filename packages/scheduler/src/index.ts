export {
  DEFAULT_TIMESLICE,
  type RoundRobinOptions,
  RoundRobinScheduler,
  type Scheduler,
} from "./scheduler.js";
