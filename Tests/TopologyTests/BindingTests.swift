import Testing
@testable import Topology

/// Each test binds a thread it spawned itself, never a test-runner thread.
@Suite struct BindingTests {
    @Test func bindsToEachAllowedCPU() throws {
        let topology = try CPUTopology.discover()
        for cpu in topology.allowedProcessingUnits {
            let observed = onNewThread { () -> Result<Int, TopologyError> in
                do throws(TopologyError) {
                    try bindCurrentThread(toCPU: cpu)
                    // Binding takes effect before sched_setaffinity returns:
                    // the kernel migrates the thread if needed.
                    return .success(currentCPU())
                } catch {
                    return .failure(error)
                }
            }
            #expect(try observed.get() == cpu)
        }
    }

    @Test func bindingToAMissingCPUThrows() throws {
        let topology = try CPUTopology.discover()
        let missing = (topology.processingUnits.max() ?? 0) + 1
        for cpu in [missing, 4095, -1, 1 << 40] {
            let error = onNewThread { () -> TopologyError? in
                do throws(TopologyError) {
                    try bindCurrentThread(toCPU: cpu)
                    return nil
                } catch {
                    return error
                }
            }
            #expect(error != nil, "binding to CPU \(cpu) succeeded")
            #expect(error?.description.contains("CPU \(cpu)") == true, "\(error!)")
        }
    }

    @Test func currentCPUIsAnAllowedCPU() throws {
        let topology = try CPUTopology.discover()
        #expect(topology.allowedProcessingUnits.contains(currentCPU()))
    }
}
