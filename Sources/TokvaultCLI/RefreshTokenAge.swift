import TokvaultVault

/// What `doctor` says about a stored refresh token's age: refused, expired or about to, or
/// unused for long enough that Entra ID's inactivity limit is near.
enum RefreshTokenAge {
    /// Entra ID revokes a refresh token unused for 90 days (its default); warn 10 days before.
    static let azureInactivityWarningDays = 80
    static let azureInactivityLimitDays = 90

    struct Finding: Equatable {
        var text: String
        var isProblem: Bool
    }

    static func findings(_ refresh: AppView.RefreshTokenView, app: App, now: Int64) -> [Finding] {
        var out: [Finding] = []
        if let refused = refresh.refusedAt {
            out.append(
                Finding(
                    text:
                        "refresh token refused \(refused) (\(refresh.refusal ?? "refused")): run `tokvault login \(app.name)`",
                    isProblem: true))
        }
        if let expires = refresh.expiresOn {
            let left = AppView.days(since: now, now: expires)
            if expires <= now {
                out.append(
                    Finding(
                        text: "refresh token expired \(refresh.expiresAt ?? ""): run `tokvault login \(app.name)`",
                        isProblem: true))
            } else if left < 7 {
                out.append(
                    Finding(
                        text: "warning: refresh token expires in \(left) day(s), \(refresh.expiresAt ?? "")",
                        isProblem: false))
            }
        }
        if app.provider == .azure, refresh.inactiveDays > azureInactivityWarningDays {
            out.append(
                Finding(
                    text:
                        "warning: refresh token unused for \(refresh.inactiveDays) days; Entra ID revokes it after \(azureInactivityLimitDays) days without use by default: `tokvault refresh \(app.name)` keeps it alive",
                    isProblem: false))
        }
        return out
    }
}
