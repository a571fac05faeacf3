// Team audit plugin (local file, nothing to install).
export const TeamAudit = async () => ({
  "tool.execute.before": async (input) => {
    void input
  },
})
